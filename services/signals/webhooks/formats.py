"""The body of a notification in a subscription's format; built from the stored event, so
every attempt (and a replay) sends the same bytes.

- `standard-webhooks`: `{"type", "timestamp", "data": {ids, "resourceUrl"}}`, the payload
  shape the Standard Webhooks specification recommends.
- `zgw`: a ZGW Notificaties API notification (`kanaal`, `hoofdObject`, `resource`,
  `resourceUrl`, `actie`, `aanmaakdatum`, `kenmerken`), for municipalities that route
  notifications through their own Notificaties component.
"""

from __future__ import annotations

from typing import Any

import orjson

from services.signals.webhooks.events import WebhookEventType
from services.signals.webhooks.schemas import WebhookFormat

_E = WebhookEventType

#: ZGW `actie`: what happened to the resource (the step itself is in `kenmerken`).
_ZGW_ACTIONS = {
    _E.REFERRAL_CREATED: "create", _E.REFERRAL_ERASED: "destroy",
    _E.REFERRAL_ACCEPTED: "partial_update", _E.REFERRAL_OUTCOME_RECORDED: "partial_update",
    _E.REFERRAL_HANDED_BACK: "partial_update", _E.REFERRAL_WITHDRAWN: "partial_update",
    _E.SIGNAL_STATUS_CHANGED: "partial_update",
}


def render(fmt: WebhookFormat, data: dict[str, Any], base_url: str) -> bytes:
    """`data` as stored in `webhook_events.data` (type, occurredAt, ids, resourcePath)."""
    ids = {k: v for k, v in data.items() if k not in ("type", "occurredAt", "resourcePath")}
    resource_url = base_url.rstrip("/") + data["resourcePath"]
    event_type = WebhookEventType(data["type"])
    if fmt is WebhookFormat.ZGW:
        is_referral = event_type is not _E.SIGNAL_STATUS_CHANGED
        return orjson.dumps({
            "kanaal": "verwijzingen" if is_referral else "signalen",
            "hoofdObject": resource_url,
            "resource": "verwijzing" if is_referral else "signaal",
            "resourceUrl": resource_url,
            "actie": _ZGW_ACTIONS[event_type],
            "aanmaakdatum": data["occurredAt"],
            "kenmerken": {"gebeurtenis": event_type.value, **ids},
        })
    return orjson.dumps({"type": event_type.value, "timestamp": data["occurredAt"],
                         "data": {**ids, "resourceUrl": resource_url}})
