"""Countries that random search found against earlier versions of disclosure control, kept as
explicit examples of the property attacker (`test_property_attacker.py`). Each one broke it:

- WIDENED: a published national total over two small gemeenten whose wijken and buurten were
  all withheld already; the audit saw the pin but had no small count left to relabel, and
  published anyway. Now one more published cell or total of the pinning relation is withheld.
- ZERO_TOTAL: a total of 0 (a wijk or programme area of buurten without signals) withheld as
  `secondary` to protect an overlapping group: it protected nothing (its zero parts are
  published, so it is known) and contradicted the rules (0 is published; `secondary` is 1 or
  more). Now a total of 0 is never withheld; the other group's total is.
- COMBINED: two overlapping programme areas (one published, one small) and a small wijk pin a
  buurt's count of 1 only together (their sum bounds it by a half); intervals per relation
  missed it. Now the audit also tries each other value of a small count.
"""

from __future__ import annotations

from services.indicators.tests.attacks.country import Country, Household

WIDENED = Country(
    buurten={
        "BU34000000": [],
        "BU34000001": [
            Household(key=384, visits={"2026-09": {"nuisance": (1, 0)}}),
            Household(key=6390, visits={"2026-10": {"nuisance": (2, 0), "loneliness": (2, 2)}}),
            Household(
                key=4294967295, visits={"2026-10": {"nuisance": (2, 2), "loneliness": (2, 0)}}
            ),
            Household(
                key=102850271,
                visits={
                    "2026-09": {"rent-arrears": (2, 1), "loneliness": (2, 1)},
                    "2026-10": {"rent-arrears": (1, 0)},
                },
            ),
            Household(key=8376, visits={"2026-10": {"loneliness": (2, 0), "nuisance": (2, 1)}}),
            Household(
                key=346107,
                visits={"2026-09": {"rent-arrears": (2, 2)}, "2026-10": {"loneliness": (1, 0)}},
            ),
            Household(key=2675646, visits={"2026-10": {"rent-arrears": (1, 1)}}),
            Household(key=16930534, visits={"2026-09": {"nuisance": (2, 2)}}),
            Household(
                key=1371073,
                visits={
                    "2026-09": {"rent-arrears": (1, 0), "nuisance": (1, 0)},
                    "2026-10": {"nuisance": (1, 0), "loneliness": (2, 1)},
                },
            ),
        ],
        "BU34000002": [
            Household(key=925, visits={"2026-09": {"rent-arrears": (1, 0), "nuisance": (2, 1)}}),
            Household(key=1000000, visits={"2026-09": {"loneliness": (2, 1), "nuisance": (1, 0)}}),
            Household(key=34295, visits={"2026-10": {"nuisance": (1, 1)}}),
            Household(key=1694604016, visits={"2026-10": {"rent-arrears": (1, 0)}}),
            Household(key=84, visits={"2026-10": {"loneliness": (1, 0), "rent-arrears": (1, 0)}}),
            Household(
                key=86083,
                visits={
                    "2026-09": {"loneliness": (2, 2)},
                    "2026-10": {"loneliness": (1, 0), "rent-arrears": (1, 1)},
                },
            ),
        ],
        "BU34000100": [
            Household(
                key=172356490,
                visits={
                    "2026-09": {"nuisance": (2, 2), "loneliness": (2, 2)},
                    "2026-10": {"rent-arrears": (1, 0), "loneliness": (1, 0)},
                },
            ),
            Household(key=19069, visits={"2026-10": {"loneliness": (1, 1)}}),
            Household(key=1, visits={"2026-09": {"nuisance": (2, 1), "rent-arrears": (2, 2)}}),
            Household(key=8376, visits={"2026-10": {"loneliness": (2, 0), "nuisance": (2, 1)}}),
        ],
        "BU34010000": [
            Household(key=4294967295, visits={"2026-10": {"rent-arrears": (1, 1)}}),
            Household(
                key=479312,
                visits={
                    "2026-09": {"nuisance": (2, 0), "loneliness": (1, 0)},
                    "2026-10": {"nuisance": (1, 1), "rent-arrears": (2, 0)},
                },
            ),
        ],
        "BU34010100": [
            Household(
                key=5520498,
                visits={"2026-09": {"rent-arrears": (2, 2)}, "2026-10": {"nuisance": (2, 1)}},
            )
        ],
        "BU34010101": [
            Household(key=1009188, visits={"2026-09": {"rent-arrears": (1, 0)}}),
            Household(
                key=13402286,
                visits={
                    "2026-09": {"loneliness": (2, 2), "rent-arrears": (2, 2)},
                    "2026-10": {"loneliness": (1, 1)},
                },
            ),
            Household(key=384, visits={"2026-10": {"nuisance": (1, 0)}}),
        ],
        "BU34010102": [],
    },
    programme_areas={
        "PA-0": ["BU34000000", "BU34000001", "BU34010100", "BU34010101", "BU34010102"]
    },
    corporation_dwellings={
        "BU34000000": 34,
        "BU34000001": 64,
        "BU34000002": 32,
        "BU34000100": 30,
        "BU34010000": 94,
        "BU34010100": 98,
        "BU34010101": 69,
        "BU34010102": 129,
    },
)

ZERO_TOTAL = Country(
    buurten={
        "BU34000000": [
            Household(key=15916610, visits={"2026-10": {"nuisance": (1, 1), "loneliness": (2, 0)}}),
            Household(
                key=2017062,
                visits={
                    "2026-09": {"loneliness": (1, 0), "nuisance": (2, 1)},
                    "2026-10": {"rent-arrears": (2, 2)},
                },
            ),
            Household(
                key=379875,
                visits={
                    "2026-09": {"rent-arrears": (1, 1), "loneliness": (1, 0)},
                    "2026-10": {"rent-arrears": (1, 1), "nuisance": (1, 0)},
                },
            ),
            Household(key=39, visits={"2026-10": {"nuisance": (1, 0)}}),
            Household(
                key=7544,
                visits={
                    "2026-09": {"nuisance": (1, 1)},
                    "2026-10": {"rent-arrears": (2, 2), "loneliness": (1, 1)},
                },
            ),
            Household(key=14966, visits={"2026-09": {"loneliness": (1, 0)}}),
            Household(key=141669691, visits={"2026-09": {"loneliness": (2, 1)}}),
            Household(key=597013, visits={"2026-09": {"loneliness": (1, 1)}}),
            Household(
                key=2084777, visits={"2026-09": {"rent-arrears": (2, 0), "nuisance": (2, 1)}}
            ),
            Household(
                key=5048819, visits={"2026-10": {"rent-arrears": (2, 2), "nuisance": (2, 1)}}
            ),
        ],
        "BU34000001": [
            Household(key=1337, visits={"2026-10": {"rent-arrears": (2, 2)}}),
            Household(
                key=10281189, visits={"2026-10": {"rent-arrears": (1, 0), "nuisance": (1, 0)}}
            ),
        ],
        "BU34000100": [Household(key=4175254, visits={"2026-10": {"loneliness": (1, 0)}})],
        "BU34000101": [
            Household(key=537, visits={"2026-10": {"rent-arrears": (1, 1), "loneliness": (2, 2)}})
        ],
    },
    programme_areas={"PA-0": ["BU34000000", "BU34000101"]},
    corporation_dwellings={
        "BU34000000": 38,
        "BU34000001": 139,
        "BU34000100": 25,
        "BU34000101": 124,
    },
)

COMBINED = Country(
    buurten={
        "BU34000000": [],
        "BU34000001": [
            Household(
                key=437,
                visits={
                    "2026-09": {"rent-arrears": (1, 0)},
                    "2026-10": {"loneliness": (2, 2), "rent-arrears": (1, 1)},
                },
            ),
            Household(key=81, visits={"2026-10": {"loneliness": (1, 1), "nuisance": (1, 0)}}),
            Household(
                key=2046,
                visits={
                    "2026-09": {"nuisance": (2, 0), "loneliness": (2, 2)},
                    "2026-10": {"loneliness": (1, 1), "nuisance": (2, 2)},
                },
            ),
            Household(key=589, visits={"2026-09": {"loneliness": (2, 2), "rent-arrears": (1, 0)}}),
        ],
        "BU34010000": [
            Household(
                key=29822, visits={"2026-10": {"loneliness": (1, 1), "rent-arrears": (2, 2)}}
            ),
            Household(
                key=24063,
                visits={"2026-09": {"rent-arrears": (1, 1)}, "2026-10": {"nuisance": (2, 2)}},
            ),
            Household(
                key=123939,
                visits={
                    "2026-09": {"nuisance": (2, 2)},
                    "2026-10": {"nuisance": (1, 1), "rent-arrears": (2, 1)},
                },
            ),
        ],
        "BU34010001": [
            Household(
                key=20685699, visits={"2026-09": {"rent-arrears": (1, 1), "loneliness": (2, 1)}}
            ),
            Household(
                key=1012,
                visits={
                    "2026-09": {"rent-arrears": (1, 1), "loneliness": (2, 1)},
                    "2026-10": {"nuisance": (2, 1)},
                },
            ),
            Household(
                key=259547217,
                visits={
                    "2026-09": {"rent-arrears": (2, 1)},
                    "2026-10": {"nuisance": (1, 0), "loneliness": (1, 1)},
                },
            ),
        ],
        "BU34010002": [
            Household(
                key=195313549, visits={"2026-09": {"rent-arrears": (2, 0), "loneliness": (2, 0)}}
            ),
            Household(key=4294967295, visits={"2026-09": {"nuisance": (2, 2)}}),
            Household(
                key=191,
                visits={
                    "2026-09": {"loneliness": (1, 1), "rent-arrears": (2, 2)},
                    "2026-10": {"rent-arrears": (2, 2)},
                },
            ),
            Household(key=10137475, visits={"2026-09": {"loneliness": (1, 0)}}),
            Household(key=4598611, visits={"2026-10": {"nuisance": (1, 0)}}),
            Household(
                key=1258994666,
                visits={"2026-09": {"rent-arrears": (2, 0)}, "2026-10": {"nuisance": (1, 1)}},
            ),
            Household(
                key=6679652,
                visits={
                    "2026-09": {"loneliness": (2, 0), "rent-arrears": (1, 1)},
                    "2026-10": {"nuisance": (1, 0), "rent-arrears": (2, 0)},
                },
            ),
            Household(
                key=6141,
                visits={
                    "2026-09": {"rent-arrears": (1, 0)},
                    "2026-10": {"rent-arrears": (1, 0), "loneliness": (2, 0)},
                },
            ),
            Household(key=701725, visits={"2026-10": {"rent-arrears": (2, 2), "nuisance": (2, 2)}}),
        ],
    },
    programme_areas={
        "PA-0": ["BU34000000", "BU34000001", "BU34010001", "BU34010002"],
        "PA-1": ["BU34000000", "BU34000001", "BU34010000"],
        "PA-2": ["BU34000000", "BU34000001"],
    },
    corporation_dwellings={
        "BU34000000": 131,
        "BU34000001": 150,
        "BU34010000": 37,
        "BU34010001": 87,
        "BU34010002": 77,
    },
)
