"""clevertap-sandbox: a local stand-in for CleverTap's ``POST /1/upload``,
``POST /1/delete/profiles.json`` and ``POST /1/subscribe`` APIs.

It validates requests the way CleverTap does (written from the API contract in
``clevertap-api.md`` and checked against recorded real traffic, never from the target's code),
stores what it accepts in SQLite, and can inject faults. It is for loopback use only: the admin
endpoints need no credentials, and it binds 127.0.0.1 by default.

Python API::

    from target_clevertap.sandbox import Faults, Sandbox

    with Sandbox(account_id="acc", passcode="pass", db_path=None, store=True, latency_ms=0,
                 max_concurrent=15, max_concurrent_other=3, host="127.0.0.1",
                 port=0) as sb:   # port 0: a free port
        sb.url          # "http://127.0.0.1:PORT"; POST {sb.url}/1/upload
        sb.set_faults(Faults(sequence=["503", "503", "200"], match="type=event"))
        sb.stats()      # uploads: requests_total, requests_by_status {code: n}, in_flight,
                        # max_in_flight_seen, records_received, records_accepted;
                        # "other_apis": the same for deletes and subscribes
    sb.profiles()       # [{"identity_key", "identity", "profile": {...}, "ts"}]
    sb.profile("u-1")   # {...} the stored properties of one profile, or None
    sb.profile("__g1", identity_key="objectId")
    sb.events()         # [{"identity_key", "identity", "evt_name", "evt_data", "ts"}]
    sb.deletions()      # [{"deleted_at", "key", "values", "profiles_deleted",
                        #   "events_deleted", "tokens_deleted"}]
    sb.tokens()         # [{"object_id", "token_id", "token_type", "token_data", "ts"}]
    sb.subscriptions()  # [{"batch", "received_at", "type", "value", "status", "profiles"}]
    sb.subscription_status("email", "ana@example.com")   # "Unsubscribe", "Resubscribe" or None
    sb.requests()
    sb.counts()         # {"profiles", "events", "tokens", "requests", "deletions",
                        #  "subscriptions", "events_by_name", "requests_by_status"}

Leaving the ``with`` block (or ``sb.stop()``) stops serving and ends open connections; the
store stays readable until ``sb.close()``. ``sb.start()`` returns ``sb``.

``db_path``: ``None`` or ``":memory:"`` keeps data in memory, a path writes a SQLite file (WAL
mode, readable by other processes while the sandbox runs); ``store=False`` keeps nothing.
``Sandbox(..., rules=Rules(...))`` changes validation switches (see ``validation.Rules``).

Reading a database file, while the sandbox runs or after::

    from target_clevertap.sandbox import SandboxStore, read_counts, read_events, read_profiles

    read_profiles("sandbox.db"); read_events("sandbox.db"); read_counts("sandbox.db")
    read_deletions("sandbox.db"); read_subscriptions("sandbox.db")
    with SandboxStore("sandbox.db") as store:
        store.profiles(); store.events(); store.tokens(); store.requests(); store.deletions()
        store.subscriptions(); store.profile("u-1"); store.subscription_status("phone", "+1...")
        store.counts()
        store.events(last=10)   # only the 10 newest rows

Admin endpoints (same port, no auth): ``POST /_sandbox/faults`` with a JSON object of
:class:`Faults` fields (replaces all faults; ``{}`` clears them), ``GET /_sandbox/faults``,
``GET /_sandbox/stats``. A wrong regional host is simulated with ``Faults(forever="401")``.

Decisions where the contract is open:

* exactly one identity key (identity, objectId, FBID, GPID) with a non-empty string or a number,
  else 523; an objectId must be 1-64 letters, digits, ``_`` or ``-``, else 526;
* a profile without a ``profileData`` object, or with a malformed value, gives 524; an event
  without an ``evtData`` object gives 512; the first failing rule of a record wins, in the order
  of ``validation.CHECKS`` (type, identity, objectId, ts, then the record type's own rules);
* malformed profile values (524), strictly: an unknown or disabled ``$`` operator or more than
  one in an object; a multi-value (plain list, ``$set``, ``$add``, ``$remove``) that is not a
  list of text or holds more than 100 items (never truncated), or on a standard field (Name,
  Email, Phone, DOB, ...); ``$incr``/``$decr`` of anything but a number; ``$delete`` of anything
  but ``true``; a ``category-unsubscribe``/``category-resubscribe`` value that is not a non-empty
  object whose keys are among email, push, sms, whatsapp, each a list of non-blank text;
* stored profiles apply the operators with the SDK semantics (lists unique, at most 100 items,
  oldest evicted; ``$incr``/``$decr`` on a missing or non-numeric property start from 0); the
  category keys keep, per channel, the categories currently unsubscribed / resubscribed (a
  category moves from one key to the other); ``Sandbox.profile(identity)`` reads one back;
* ``null`` property values are accepted and leave the stored value alone; nested objects in
  ``profileData`` are stored as given; events create no profile;
* ``ts`` as a digit string or in milliseconds (13 digits) is accepted and stored in seconds
  unless ``Rules(strict_ts=True)``; records without ``ts`` get the time of receipt;
* tokens (``type: token``) are checked with codes 530-535 and kept in a ``tokens`` table, one
  row per objectId and token id: 530 for a missing or invalid ``objectId`` or another identity
  key beside it, 531 for a ``tokenData`` that is not an object, 532 for a missing or blank ``id``,
  533 for a missing ``type``, 534 for a type not allowed (``fcm``, ``gcm``, ``apns``; ``wns``,
  ``mpns`` and ``chrome`` only with ``Rules(token_types=ALL_TOKEN_TYPES)`` or
  ``--legacy-token-types``, as the reference's §11 asks), 535 for a chrome token without
  ``keys`` holding text ``p256dh`` and ``auth``, and for ``keys`` on any other type; more than
  100 token records in one request get 400 ``Malformed request`` (the real answer is unknown);
  whether the objectId belongs to a user live through an SDK is not checked;
* only ``?dryRun=1`` is a dry run; it is validated and answered as usual and stores nothing
  (the ``requests`` log still gets a row, marked ``dry_run``);
* checks run in this order: credentials (401), in-flight limit (429), added latency, body (400),
  faults, records; the in-flight count includes latency and ``slow:`` waits. With
  ``Faults(latency_includes_work=True)`` (``--latency-includes-work``) the latency is instead
  the whole time from the body read to the answer, the checks after it done within it;
* ``/1/delete/profiles.json`` takes exactly one of ``identity`` or ``guid`` (the objectId of
  uploads), each a non-empty string or an array of 1-100 of them, else 400 ``Malformed request:
  ...``; numbers are refused (uploads accept numeric identities, the delete contract names
  strings); unknown keys are ignored unless ``Rules(strict_keys=True)``; ``dryRun`` is ignored
  (CleverTap has no dry run for deletes). It deletes the matching profiles and their events, for
  guids also their tokens, logs a row in ``deletions`` and answers ``{"status": "success"}``, also
  when nothing matched. Deletes have their own in-flight limit (``max_concurrent_other``,
  default 3), share the faults and the fault ``sequence`` with uploads, and are not logged in
  ``requests``;
* ``/1/subscribe`` takes ``{"d": [...]}`` with 1-1,000 records ``{"type": "email" | "phone",
  "value", "status": "Unsubscribe" | "Resubscribe"}`` (else 400) and answers like an upload
  (``success`` / ``partial`` / ``fail``, ``processed``, ``unprocessed`` items numbered from 1),
  with the sandbox's own codes: 524 for another type or status, 515 / 516 for a value that is not
  an email / a ``+``-and-digits phone; ``dryRun`` is ignored (applied, as for deletes); it shares
  the in-flight budget of deletes, their faults and ``sequence``, and is not logged in
  ``requests``. Applied records are kept in order in ``subscriptions``; profiles are unchanged.
"""

from target_clevertap.sandbox.faults import Faults
from target_clevertap.sandbox.server import Sandbox
from target_clevertap.sandbox.store import (
    SandboxStore,
    read_counts,
    read_deletions,
    read_events,
    read_profiles,
    read_subscriptions,
)
from target_clevertap.sandbox.validation import ALL_TOKEN_TYPES, Rules

__all__ = [
    "ALL_TOKEN_TYPES",
    "Faults",
    "Rules",
    "Sandbox",
    "SandboxStore",
    "read_counts",
    "read_deletions",
    "read_events",
    "read_profiles",
    "read_subscriptions",
]
