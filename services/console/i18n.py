"""Dutch first, English on request: the console's own words (the APIs' words come as sent).

The language is the `lang` cookie (set by the switch in the page header), else the first of
Dutch or English in the browser's Accept-Language, else Dutch. It is passed on to the APIs.
"""

from __future__ import annotations

from fastapi import Request

LANGUAGES = ("nl", "en")

#: key -> (Dutch, English)
LABELS: dict[str, tuple[str, str]] = {
    "console": ("Dicht de kloof: console", "Dicht de kloof: console"),
    "skip": ("Naar de inhoud", "Skip to content"),
    "switch_language": ("English", "Nederlands"),
    "switch_language_title": ("Switch to English", "Schakel naar Nederlands"),
    "nav": ("Hoofdmenu", "Main menu"),
    "signed_in_as": ("Aangemeld als", "Signed in as"),
    "sign_out": ("Afmelden", "Sign out"),
    "sign_in": ("Aanmelden", "Sign in"),
    "sign_in_dev": ("Aanmelden voor ontwikkeling", "Development sign-in"),
    "sign_in_dev_intro": (
        "Kies een rol en organisatie. Dit kan alleen met de ontwikkelsleutel van deze "
        "machine; in productie meldt u zich aan bij uw organisatie.",
        "Pick a role and organisation. This works only with this machine's development "
        "key; in production you sign in with your organisation."),
    "sign_in_oidc": ("Aanmelden bij uw organisatie", "Sign in with your organisation"),
    "sign_in_none": ("Aanmelden is niet ingesteld: vraag de beheerder om OpenID Connect.",
                     "Sign-in is not configured: ask the administrator for OpenID Connect."),
    "role": ("Rol", "Role"),
    "organisation": ("Organisatie", "Organisation"),
    "user_name": ("Gebruikersnaam (optioneel)", "User name (optional)"),
    "team": ("Team van de partner (optioneel)", "Partner team (optional)"),
    "home": ("Start", "Home"),
    "home_intro": ("Kies een onderdeel in het menu.", "Choose a part in the menu."),
    "queue": ("Werkvoorraad", "Queue"),
    "queue_intro": ("Openstaande signalen: acute eerst, dan die over hun termijn, dan op "
                    "termijn, de vroegste eerst.",
                    "Open signals: acute first, then overdue ones, then by due date, "
                    "earliest first."),
    "show_all": ("Ook afgesloten signalen en signalen met gewiste persoonsgegevens",
                 "Also closed signals and signals whose personal data was erased"),
    "personal_data_removed": ("Persoonsgegevens gewist", "Personal data erased"),
    "filter": ("Filteren", "Filter"),
    "area": ("Buurt", "Neighbourhood"),
    "area_code": ("Buurtcode", "Area code"),
    "category": ("Categorie", "Category"),
    "status": ("Status", "Status"),
    "severity": ("Ernst", "Severity"),
    "observed_at": ("Waargenomen", "Observed"),
    "sla_due_at": ("Termijn", "Due"),
    "overdue": ("Over termijn", "Overdue"),
    "on_time": ("Op tijd", "On time"),
    "any": ("(alle)", "(any)"),
    "next_page": ("Volgende pagina", "Next page"),
    "no_signals": ("Geen signalen met deze filters.", "No signals with these filters."),
    "signal": ("Signaal", "Signal"),
    "open": ("Openen", "Open"),
    "facts": ("Gegevens", "Facts"),
    "history": ("Geschiedenis", "History"),
    "changed_at": ("Wanneer", "When"),
    "changed_by": ("Door", "By"),
    "from_to": ("Van → naar", "From → to"),
    "reason": ("Reden", "Reason"),
    "reason_hidden": ("(reden vastgelegd; zichtbaar na het kiezen van een doel)",
                      "(reason recorded; shown after choosing a purpose)"),
    "change_status": ("Status wijzigen", "Change status"),
    "new_status": ("Nieuwe status", "New status"),
    "outcome": ("Uitkomst", "Outcome"),
    "save": ("Opslaan", "Save"),
    "referrals": ("Doorverwijzingen", "Referrals"),
    "no_referrals": ("Nog geen doorverwijzingen.", "No referrals yet."),
    "refer": ("Doorverwijzen", "Refer"),
    "partner": ("Partnerorganisatie", "Partner organisation"),
    "purpose": ("Doel", "Purpose"),
    "legal_basis": ("Grondslag", "Legal basis"),
    "referred_at": ("Verwezen op", "Referred at"),
    "outcomes": ("Uitkomsten", "Outcomes"),
    "no_outcomes": ("Nog geen uitkomsten.", "No outcomes yet."),
    "follow_up": ("Vervolg op", "Follow-up on"),
    "personal_data": ("Persoonsgegevens", "Personal data"),
    "personal_data_intro": (
        "Persoonsgegevens ziet u pas na het kiezen van een doel. Elke inzage wordt vastgelegd "
        "in het toegangslogboek.",
        "Personal data is shown only after choosing a purpose. Every read is recorded in the "
        "access log."),
    "read_logged": ("Deze inzage is vastgelegd in het toegangslogboek (doel: {purpose}).",
                    "This read is recorded in the access log (purpose: {purpose})."),
    "show_personal_data": ("Persoonsgegevens tonen", "Show personal data"),
    "address": ("Adres", "Address"),
    "unit_ref": ("Eenheid", "Unit"),
    "note": ("Notitie", "Note"),
    "arrears": ("Achterstand", "Arrears"),
    "none": ("geen", "none"),
    "refusals": ("De dienst weigerde dit:", "The service refused this:"),
    "saved": ("Opgeslagen.", "Saved."),
    "error": ("Er ging iets mis", "Something went wrong"),
    "service_down": (
        "De dienst {service} is nu niet bereikbaar. Probeer het over een paar minuten "
        "opnieuw; blijft het zo, neem dan contact op met de beheerder.",
        "The {service} service cannot be reached now. Try again in a few minutes; if it "
        "stays so, contact the administrator."),
    "not_signed_in": ("U bent niet aangemeld.", "You are not signed in."),
    "csrf_failed": ("Het formulier is verlopen. Laad de pagina opnieuw en probeer het nog eens.",
                    "The form expired. Reload the page and try again."),
    "forbidden": ("U hebt geen toegang tot deze pagina met uw rol.",
                  "Your role gives no access to this page."),
    "back": ("Terug", "Back"),
    "allowed_options": ("Toegestaan door het convenant", "Allowed by the covenant"),
    "refused_options": ("Niet toegestaan (zie hieronder)", "Not allowed (see below)"),
    "why_refused": ("Waarom deze doorverwijzingen niet kunnen",
                    "Why these referrals cannot be made"),
    "access_log": ("Toegangslog", "Access log"),
    "programmes": ("Programma's", "Programmes"),
    "map": ("Kaart", "Map"),
    "admin": ("Beheer", "Administration"),
    "data_subjects": ("Verzoeken van betrokkenen", "Data-subject requests"),
    "data_subjects_intro": (
        "Zoek een huishouden op adres (postcode en huisnummer) of op uw eenheidsnummer. "
        "Inzage toont alles wat uw organisatie over het huishouden heeft; wissen verwijdert "
        "de persoonsgegevens uit uw signalen (AVG art. 15 en 17).",
        "Find a household by address (postcode and house number) or by your unit reference. "
        "An export shows everything your organisation holds on it; erasure removes the "
        "personal data from your signals (GDPR art. 15 and 17)."),
    "chain": ("Ketencontrole", "Chain verification"),
    "chain_valid": ("De keten is intact.", "The chain is intact."),
    "chain_broken": ("De keten is verbroken!", "The chain is broken!"),
    "chain_checked": ("{n} vermeldingen gecontroleerd", "{n} entries checked"),
    "checkpoint": ("laatste controlepunt", "latest checkpoint"),
    "entry": ("vermelding", "entry"),
    "reads": ("Inzages van persoonsgegevens", "Reads of personal data"),
    "no_reads": ("Geen inzages met deze filters.", "No reads with these filters."),
    "record_id": ("Dossier (id)", "Record (id)"),
    "reader": ("Gebruiker", "User"),
    "since": ("Vanaf", "From"),
    "until": ("Tot", "Until"),
    "fields": ("Velden", "Fields"),
    "result": ("Resultaat", "Result"),
    "postcode": ("Postcode", "Postcode"),
    "house_number": ("Huisnummer", "House number"),
    "house_letter": ("Huisletter", "House letter"),
    "confirm_erasure": ("Ik wil de persoonsgegevens van dit huishouden wissen",
                        "I want to erase this household's personal data"),
    "confirm_erasure_needed": ("Vink dit aan om te wissen.", "Tick this to erase."),
    "export": ("Inzage", "Export"),
    "erase": ("Wissen", "Erase"),
    "export_result": ("Inzage: {n} signalen", "Export: {n} signals"),
    "export_logged": ("Deze inzage is vastgelegd in het toegangslogboek.",
                      "This export is recorded in the access log."),
    "disclosures": ("Wie zag wat wanneer", "Who saw what when"),
    "erased": ("Gewist: persoonsgegevens van {n} signalen.",
               "Erased: personal data of {n} signals."),
    "erasure_records": ("Register van wissingen", "Record of erasures"),
    "kind": ("Soort", "Kind"),
    "signals": ("Signalen", "Signals"),
    "name": ("Naam", "Name"),
    "cbs_upload": ("CBS Kerncijfers inlezen", "Import CBS Kerncijfers"),
    "cbs_upload_intro": ("Een CSV van de Kerncijfers wijken en buurten (kwb-JJJJ.csv) of een "
                         "StatLine-tabel, voor één jaar. Opnieuw inlezen is veilig.",
                         "A CSV of the Kerncijfers wijken en buurten (kwb-YYYY.csv) or a "
                         "StatLine table, for one year. Importing again is safe."),
    "file": ("Bestand", "File"),
    "upload": ("Inlezen", "Import"),
    "import_report": ("Ingelezen voor {year}:", "Imported for {year}:"),
    "import_counts": ("{imported} nieuw, {updated} gewijzigd, {unchanged} ongewijzigd, "
                      "{rejected} afgewezen.",
                      "{imported} new, {updated} changed, {unchanged} unchanged, "
                      "{rejected} rejected."),
    "missing_statistics": ("Kolommen die het bestand niet heeft",
                           "Statistics the file has no column for"),
    "rejected_rows": ("Afgewezen regels", "Rejected rows"),
    "line": ("Regel", "Line"),
    "map_upload": ("Kaart inlezen (wijk- en buurtkaart)", "Import a map (wijk- en buurtkaart)"),
    "map_source": ("Bron van de kaart", "Source of the map"),
    "map_counts": ("Kaart ingelezen: {stored} nieuw of gewijzigd, {unchanged} ongewijzigd.",
                   "Map imported: {stored} new or changed, {unchanged} unchanged."),
    "not_registered": ("Niet in het register", "Not in the register"),
    "programme_areas": ("Programmagebieden", "Programme areas"),
    "programme_area_edit": ("Programmagebied vastleggen of wijzigen",
                            "Register or change a programme area"),
    "id": ("Code", "Code"),
    "buurten": ("Buurten", "Neighbourhoods"),
    "buurt_codes": ("Buurtcodes (gescheiden door spaties of komma's)",
                    "Buurt codes (separated by spaces or commas)"),
    "ranking": ("Ranglijst", "Ranking"),
    "gemeente": ("Gemeente (code)", "Municipality (code)"),
    "indicator": ("Indicator", "Indicator"),
    "vulnerability_index": ("Kwetsbaarheidsindex", "Vulnerability index"),
    "show": ("Tonen", "Show"),
    "map_caption": (
        "Grijs: waarde afgeschermd of onbekend (reden in de lijst). De cijfers staan ook in "
        "de tabel hieronder.",
        "Grey: value withheld or unknown (reason in the list). The figures are also in the "
        "table below."),
    "withheld": ("Afgeschermde gebieden", "Withheld areas"),
    "withheld_cell": ("afgeschermd", "withheld"),
    "first_of": ("De eerste {n} van {total} gebieden; alle staan in de", "The first {n} of "
                 "{total} areas; all of them are in the"),
    "value": ("Waarde", "Value"),
    "unknown": ("onbekend", "unknown"),
    "rank": ("Positie", "Rank"),
    "period": ("Periode", "Period"),
    "method": ("methode", "method"),
    "score": ("Score", "Score"),
    "decile": ("Deciel", "Decile"),
    "rank_stability": ("Stabiliteit van de positie", "Rank stability"),
    "normalisation": ("Normalisatie", "Normalisation"),
    "main_method": ("hoofdmethode", "main method"),
    "series": ("Verloop", "Series"),
    "all_indicators": ("Alle indicatoren", "All indicators"),
    "years": ("Jaren", "Years"),
    "annual_total": ("Per jaar", "Per year"),
    "pools": ("Potten", "Pools"),
    "pool": ("Pot", "Pool"),
    "annual_amount": ("Bedrag per jaar", "Annual amount"),
    "themes": ("Thema's (aandeel)", "Themes (share)"),
    "theme": ("Thema", "Theme"),
    "level": ("Niveau", "Level"),
    "need_indicator": ("Indicator van de behoefte", "Need indicator"),
    "formula_by": ("Formules geschreven door", "Formulas written by"),
    "scenarios": ("Scenario's", "Scenarios"),
    "scenario": ("Scenario", "Scenario"),
    "version": ("Versie", "Version"),
    "new_scenario": ("Nieuw scenario opstellen", "Draft a new scenario"),
    "draft": ("Opstellen", "Draft"),
    "total": ("Totaal", "Total"),
    "over_areas": ("over {n} gebieden", "over {n} areas"),
    "drafted_by": ("Opgesteld door", "Drafted by"),
    "approved_by": ("Goedgekeurd door", "Approved by"),
    "four_eyes": ("Vier ogen", "Four eyes"),
    "four_eyes_rule": (
        "Goedkeuren kan een goedkeurder van {org} die dit scenario niet zelf opstelde of "
        "bewerkte ({drafter}) en de formules van het programma niet schreef ({formula}). "
        "De financieringsdienst controleert dit.",
        "An approver of {org} may approve who neither drafted nor edited this scenario "
        "({drafter}) nor wrote the programme's formulas ({formula}). The funding service "
        "checks this."),
    "approve": ("Goedkeuren", "Approve"),
    "edit_inputs": ("Invoer van dit concept wijzigen", "Change this draft's inputs"),
    "edit_inputs_intro": (
        "Wijzig de formule van één pot in dit scenario; de financieringsdienst controleert de "
        "invoer en rekent een nieuwe versie uit. Zo kunnen twee scenario's verschillen.",
        "Change one pool's formula in this scenario; the funding service checks the input and "
        "computes a new version. So two scenarios can differ."),
    "threshold": ("Drempel van de behoefte", "Need threshold"),
    "exponent": ("Exponent van de behoefte", "Need exponent"),
    "floor_cents": ("Bodem per gebied (eurocent)", "Floor per area (euro cents)"),
    "cap_cents": ("Plafond per gebied (eurocent, leeg: geen)", "Cap per area (euro cents, "
                  "empty: none)"),
    "recompute": ("Opslaan en herberekenen", "Save and recompute"),
    "why_not_not_draft": ("Dit scenario is geen concept meer: er valt niets goed te keuren.",
                          "This scenario is no longer a draft: nothing to approve."),
    "why_not_not_approver": ("U kunt niet goedkeuren: uw rol is geen goedkeurder.",
                             "You cannot approve: your role is not approver."),
    "why_not_other_organisation": ("U kunt niet goedkeuren: het programma is van een andere "
                                   "organisatie.",
                                   "You cannot approve: the programme belongs to another "
                                   "organisation."),
    "why_not_you_drafted": ("U kunt niet goedkeuren: u stelde dit scenario zelf op (vier "
                            "ogen).", "You cannot approve: you drafted this scenario (four "
                            "eyes)."),
    "why_not_you_wrote_formula": ("U kunt niet goedkeuren: u schreef de formules van dit "
                                  "programma (vier ogen).",
                                  "You cannot approve: you wrote this programme's formulas "
                                  "(four eyes)."),
    "totals": ("Totalen per pot, thema en jaar", "Totals per pool, theme and year"),
    "year": ("Jaar", "Year"),
    "amount": ("Bedrag", "Amount"),
    "csv": ("Download alle regels (CSV)", "Download all lines (CSV)"),
    "compare": ("Vergelijken", "Compare"),
    "compare_with": ("Vergelijk met", "Compare with"),
    "lines": ("Regels met uitleg", "Lines with explanation"),
    "lines_intro": (
        "Per gebied: de behoefte (indicatorwaarde), de effectieve behoefte na drempel en "
        "exponent, de factor λ die de pot precies verdeelt, een eventuele bodem of plafond, "
        "en het bedrag.",
        "Per area: the need (indicator value), the effective need after threshold and "
        "exponent, the factor λ that spends the pool exactly, a binding floor or cap, and "
        "the amount."),
    "need": ("Behoefte", "Need"),
    "need_effective": ("Effectief", "Effective"),
    "lambda": ("λ", "λ"),
    "constraint": ("Grens", "Constraint"),
    "per_inhabitant": ("€ per inwoner", "€ per inhabitant"),
    "suppressed_or_unknown": ("onbekend of afgeschermd", "unknown or suppressed"),
    "more_in_csv": ("De eerste 50 regels; alle regels staan in de CSV.",
                    "The first 50 lines; the CSV has them all."),
    "total_difference": ("Totaal verschil", "Total difference"),
    "difference": ("Verschil", "Difference"),
    "chart_table_below": ("de cijfers staan in de tabel hieronder",
                          "the figures are in the table below"),
    "difference_chart": ("Verschil per gebied (tweede min eerste)",
                         "Difference per area (second minus first)"),
}


def language(request: Request) -> str:
    chosen = request.cookies.get("lang")
    if chosen in LANGUAGES:
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return "nl"


def translate(lang: str, key: str, **values: object) -> str:
    nl, en = LABELS.get(key, (key, key))
    text = en if lang == "en" else nl
    return text.format(**values) if values else text
