"""moto server, plus one endpoint keywarden's tests need and moto lacks.

moto never sets an IAM user's password_last_used over its API (it is only
reachable in-process), so this wrapper adds:

    POST /_keywarden/iam/password-used?user=NAME[&account=ID]

which stamps the user's password_last_used with moto's "now" (under
libfaketime, the shifted clock).

moto builds a credential report the moment it is asked for one and keeps it
forever, where IAM takes a while to build it and lets it expire; so that
tests can scan an account whose report is still to be generated (the
first scan of the day), the wrapper adds

    POST /_keywarden/iam/credential-report?[account=ID][&build=SECONDS][&expire=true]

build: IAM takes SECONDS to build each of the account's reports from now
on. expire: the account's report, if it has one, has expired (IAM's do
four hours after they were generated). And it answers as IAM does
(API reference, GenerateCredentialReport and GetCredentialReport):
GenerateCredentialReport answers STARTED when there is no report or an
expired one (and starts building one), INPROGRESS while one is being built,
COMPLETE once it is built; GetCredentialReport answers ReportInProgress
(404) while it is being built and ReportExpired (410) for an expired one.
Without build, a report is built at once, as plain moto does. Its
GeneratedTime is when it was built (moto's "now", under libfaketime the
shifted clock), where plain moto always answers 2015-02-02T20:02:02Z: a
run that acts checks the report's age against its own clock.

moto lacks IAM's service-specific credentials, so the wrapper adds the five
actions to moto's IAM (Query protocol, IAM's XML, per account: the account
the request's credentials map to, as for the rest of moto's IAM), after the
API reference: CreateServiceSpecificCredential,
ListServiceSpecificCredentials, UpdateServiceSpecificCredential,
DeleteServiceSpecificCredential and ResetServiceSpecificCredential.
ServiceName is one of codecommit.amazonaws.com, cassandra.amazonaws.com
(Keyspaces) and bedrock.amazonaws.com (others: NotSupportedService, 404);
at most two credentials per user and service (LimitExceeded, 409); an
unknown user, or a credential ID the user does not hold, is NoSuchEntity
(404). CodeCommit and Keyspaces credentials carry ServiceUserName
"USER-at-ACCOUNT" and a ServicePassword; Bedrock API keys carry
ServiceCredentialAlias "USER-at-ACCOUNT" and a ServiceCredentialSecret,
and CredentialAgeDays (1..36600, Bedrock only, else InvalidInput, 400)
sets ExpirationDate = CreateDate + that many days. CreateDate is moto's
"now" (under libfaketime, the shifted clock). The password or secret is
answered only by Create and Reset (Reset keeps the ID, makes a new
secret); never logged. Status is Active or Inactive
(UpdateServiceSpecificCredential), and Expired once ExpirationDate has
passed by moto's clock. ListServiceSpecificCredentials lists UserName's,
or without it the signing access key's user's; AllUsers=true lists every
user's in the account (with UserName too: InvalidInput); ServiceName
filters; by user name, then creation order, MaxItems (default 100, at
most 1000) a page with IsTruncated and an opaque Marker. DeleteUser of a
user who still has service-specific credentials is DeleteConflict (409).

The credential report's first row is the root user's, as IAM's is, where
moto writes none: "<root_account>", arn:aws:iam::ACCOUNT:root, the
account's creation time, password_enabled not_supported (false once root's
password is removed), password_last_used (no_information when never used,
N/A without a password), password_last_changed and password_next_rotation
not_supported, mfa_active, then access key 1 and 2, certificate 1 and 2 as
for a user. GetAccountSummary's AccountMFAEnabled, AccountAccessKeysPresent
and AccountSigningCertificatesPresent answer from the same root (moto's
are always 0). By default root has MFA, a password never used, no access
key and no signing certificate, and was created 1000 days before moto's
"now" when first asked about. Tests set root's state with

    POST /_keywarden/iam/root?[account=ID][&created=DAYS_AGO][&mfa=true|false]
        [&password=present|removed][&password_used=DAYS_AGO|never]
        [&key1=active|inactive|none][&key1_age=DAYS][&key1_used=DAYS_AGO|never]
        [&cert1=active|inactive|none][&cert1_age=DAYS][&summary_only=true]

which replaces the account's root with the defaults above changed by the
parameters given (DAYS counted back from moto's "now", under libfaketime
the shifted clock; key 2 and certificate 2 are always absent). A used key
was last used in us-east-1 by iam. summary_only=true changes what
GetAccountSummary answers and leaves the report's root row as it was: the
report IAM generated before the change. An unknown parameter or value, or
password_used with password=removed, is 400.

moto's credential report writes N/A for cert_1_last_rotated and
cert_2_last_rotated; the wrapper writes the upload dates of the user's first
and second signing certificates (in upload order), as IAM does.

It also serialises DynamoDB requests. DynamoDB applies each conditional
write and each transaction atomically; moto's threaded server does not: it
reads the item, checks the condition and writes in separate steps that
concurrent requests interleave (two racing `attribute_not_exists` writes
can both succeed), and a cancelled TransactWriteItems restores a copy of
the whole table, undoing writes made meanwhile. keywarden's state store
relies on that atomicity, and its tests race several clients, so the
harness runs one DynamoDB request at a time.

Everything else is plain moto.server; the arguments are moto.server's
(-H HOST -p PORT).
"""
import sys
import threading
import time

from moto import server

PASSWORD_USED_PATH = "/_keywarden/iam/password-used"
DEFAULT_ACCOUNT = "123456789012"


def _password_used(environ, start_response):
    from urllib.parse import parse_qs

    from moto.core.utils import utcnow
    from moto.iam.models import iam_backends

    query = parse_qs(environ.get("QUERY_STRING", ""))
    name = query.get("user", [""])[0]
    account = query.get("account", [DEFAULT_ACCOUNT])[0]
    try:
        user = iam_backends[account]["aws"].get_user(name)
    except Exception as exc:  # NoSuchEntity and the like
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [f"user {name!r} in account {account}: {exc}".encode()]
    user.password_last_used = utcnow()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [user.password_last_used.isoformat().encode()]


CREDENTIAL_REPORT_PATH = "/_keywarden/iam/credential-report"


def _credential_report(environ, start_response):
    from urllib.parse import parse_qs

    from moto.iam.models import iam_backends

    query = parse_qs(environ.get("QUERY_STRING", ""))
    account = query.get("account", [DEFAULT_ACCOUNT])[0]
    backend = iam_backends[account]["aws"]
    try:
        if "build" in query:
            backend._keywarden_build = float(query["build"][0])
    except ValueError as exc:
        start_response("400 Bad Request", [("Content-Type", "text/plain")])
        return [f"build: {exc}".encode()]
    if query.get("expire", [""])[0] == "true":
        backend._keywarden_expired = bool(backend.report_generated())
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def _report_building(backend):
    """Whether the backend's credential report is still being built."""
    ready_at = getattr(backend, "_keywarden_ready_at", None)
    return ready_at is not None and time.time() < ready_at


def _generate_credential_report(self):
    from moto.core.responses import ActionResult

    backend = self.backend
    if _report_building(backend):
        return ActionResult(
            {"State": "INPROGRESS", "Description": "Report generation task is in progress"}
        )
    if backend.report_generated() and not getattr(backend, "_keywarden_expired", False):
        return ActionResult({"State": "COMPLETE"})
    from moto.core.utils import utcnow

    backend.generate_report()
    backend._keywarden_generated_at = utcnow()
    backend._keywarden_expired = False
    build = getattr(backend, "_keywarden_build", 0.0)
    backend._keywarden_ready_at = time.time() + build if build > 0 else None
    return ActionResult(
        {"State": "STARTED", "Description": "No report exists. Starting a new report generation task"}
    )


def _get_credential_report(self):
    # moto finds an error's HTTP status in the model of the service whose
    # module raised it: IAMException, not a class of this module.
    from moto.iam.exceptions import IAMException

    if _report_building(self):
        raise IAMException("ReportInProgress", "Report generation task is in progress")
    if getattr(self, "_keywarden_expired", False):
        raise IAMException("ReportExpired", "The credential report has expired")
    # The root user's row first, as IAM writes it.
    header, rows = _moto_get_credential_report(self).split("\n", 1)
    return header + "\n" + _root_csv(self.account_id, _root_state(self)["report"]) + rows


def _get_credential_report_response(self):
    from moto.core.responses import ActionResult

    report = self.backend.get_credential_report()
    generated = getattr(self.backend, "_keywarden_generated_at", None)
    return ActionResult(
        {
            "Content": report,
            "ReportFormat": "text/csv",
            "GeneratedTime": generated.strftime("%Y-%m-%dT%H:%M:%SZ")
            if generated
            else "2015-02-02T20:02:02Z",
        }
    )


ROOT_PATH = "/_keywarden/iam/root"
ROOT_DEFAULT_CREATED_DAYS = 1000
ROOT_PARAMS = {
    "account", "created", "mfa", "password", "password_used", "key1", "key1_age",
    "key1_used", "cert1", "cert1_age", "summary_only",
}
REPORT_DATE = "%Y-%m-%dT%H:%M:%S+00:00"


def _default_root():
    from datetime import timedelta

    from moto.core.utils import utcnow

    return {
        "created": utcnow() - timedelta(days=ROOT_DEFAULT_CREATED_DAYS),
        "mfa": True,
        "password": True,
        "password_used": None,
        "key1": None,  # or {"active": bool, "created": datetime, "used": datetime or None}
        "cert1": None,  # or {"active": bool, "created": datetime}
    }


def _root_state(backend):
    """The account's root: "summary" as GetAccountSummary answers it now,
    "report" as the credential report shows it (see the docstring)."""
    state = getattr(backend, "_keywarden_root", None)
    if state is None:
        root = _default_root()
        state = backend._keywarden_root = {"summary": root, "report": root}
    return state


def _parse_root(query):
    """The root a POST /_keywarden/iam/root asks for; ValueError names the
    parameter at fault."""
    from datetime import timedelta

    from moto.core.utils import utcnow

    unknown = sorted(set(query) - ROOT_PARAMS)
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(unknown)}")
    now = utcnow()

    def get(name, default):
        return query.get(name, [default])[0]

    def days(name, default, never=False):
        value = get(name, default)
        if never and value == "never":
            return None
        try:
            n = int(value)
        except ValueError:
            raise ValueError(f"{name}={value!r}: want a number of days" + (" or never" if never else ""))
        if n < 0:
            raise ValueError(f"{name}={value!r}: want 0 or more days")
        return now - timedelta(days=n)

    def choice(name, default, allowed):
        value = get(name, default)
        if value not in allowed:
            raise ValueError(f"{name}={value!r}: want one of {', '.join(allowed)}")
        return value

    root = _default_root()
    root["created"] = days("created", str(ROOT_DEFAULT_CREATED_DAYS))
    root["mfa"] = choice("mfa", "true", ("true", "false")) == "true"
    root["password"] = choice("password", "present", ("present", "removed")) == "present"
    root["password_used"] = days("password_used", "never", never=True)
    if not root["password"] and root["password_used"] is not None:
        raise ValueError("password_used: root's password is removed")
    key1 = choice("key1", "none", ("active", "inactive", "none"))
    if key1 != "none":
        root["key1"] = {
            "active": key1 == "active",
            "created": days("key1_age", "0"),
            "used": days("key1_used", "never", never=True),
        }
    cert1 = choice("cert1", "none", ("active", "inactive", "none"))
    if cert1 != "none":
        root["cert1"] = {"active": cert1 == "active", "created": days("cert1_age", "0")}
    summary_only = choice("summary_only", "false", ("true", "false")) == "true"
    return root, summary_only


def _set_root(environ, start_response):
    from urllib.parse import parse_qs

    from moto.iam.models import iam_backends

    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    account = query.get("account", [DEFAULT_ACCOUNT])[0]
    try:
        root, summary_only = _parse_root(query)
    except ValueError as exc:
        start_response("400 Bad Request", [("Content-Type", "text/plain")])
        return [f"root of account {account}: {exc}".encode()]
    state = _root_state(iam_backends[account]["aws"])
    state["summary"] = root
    if not summary_only:
        state["report"] = root
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def _root_csv(account, root):
    """The credential report's root row (IAM User Guide, "Getting credential
    reports": the columns a root user has)."""

    def date(t):
        return t.strftime(REPORT_DATE) if t is not None else "N/A"

    if root["password"]:
        password = ["not_supported", date(root["password_used"]) if root["password_used"] else "no_information"]
    else:
        password = ["false", "N/A"]
    key1 = ["false", "N/A", "N/A", "N/A", "N/A"]
    if root["key1"] is not None:
        k = root["key1"]
        used = k["used"] is not None
        key1 = [
            "true" if k["active"] else "false",
            date(k["created"]),
            date(k["used"]),
            "us-east-1" if used else "N/A",
            "iam" if used else "N/A",
        ]
    cert1 = ["false", "N/A"]
    if root["cert1"] is not None:
        c = root["cert1"]
        cert1 = ["true" if c["active"] else "false", date(c["created"])]
    row = (
        ["<root_account>", f"arn:aws:iam::{account}:root", date(root["created"])]
        + password
        + ["not_supported", "not_supported", "true" if root["mfa"] else "false"]
        + key1
        + ["false", "N/A", "N/A", "N/A", "N/A"]
        + cert1
        + ["false", "N/A"]
    )
    return ",".join(row) + "\n"


def _get_account_summary(self):
    """moto's account summary, with root's MFA, access keys and signing
    certificates as the wrapper's root has them."""
    from moto.core.responses import ActionResult

    root = _root_state(self.backend)["summary"]
    summary = dict(self.backend.get_account_summary().summary_map)
    summary["AccountMFAEnabled"] = 1 if root["mfa"] else 0
    summary["AccountAccessKeysPresent"] = 1 if root["key1"] is not None else 0
    summary["AccountSigningCertificatesPresent"] = 1 if root["cert1"] is not None else 0
    return ActionResult({"SummaryMap": summary})


# IAM's service-specific credentials: see the module's docstring.
SERVICE_CREDENTIAL_SERVICES = (
    "codecommit.amazonaws.com",
    "cassandra.amazonaws.com",
    "bedrock.amazonaws.com",
)
# Services whose credentials are long-term API keys (an alias and a secret,
# an optional expiration) rather than a user name and a password.
API_KEY_SERVICES = ("bedrock.amazonaws.com",)
SERVICE_CREDENTIALS_PER_SERVICE = 2
MAX_CREDENTIAL_AGE_DAYS = 36600
DEFAULT_MAX_ITEMS = 100


class _ServiceCredential:
    """One service-specific credential of an IAM user. Its secret is kept
    only to be answered by Create and Reset; nothing logs it."""

    def __init__(self, account, user_name, service, age_days):
        import random
        import string
        from datetime import timedelta

        from moto.core.utils import utcnow

        self.id = "ACCA" + "".join(random.choices(string.ascii_uppercase + string.digits, k=17))
        self.user_name = user_name
        self.service = service
        self.status = "Active"
        self.create_date = utcnow()
        self.expiration_date = (
            self.create_date + timedelta(days=age_days) if age_days is not None else None
        )
        self.account = account
        self.secret = None
        self.reset()

    @property
    def api_key(self):
        return self.service in API_KEY_SERVICES

    def reset(self):
        import base64
        import os

        if self.api_key:
            self.secret = "ABSK" + base64.b64encode(os.urandom(96)).decode()
        else:
            self.secret = base64.b64encode(os.urandom(33)).decode()

    def current_status(self):
        """Expired once the expiration date has passed by moto's clock."""
        from moto.core.utils import utcnow

        if self.expiration_date is not None and utcnow() >= self.expiration_date:
            return "Expired"
        return self.status

    def metadata(self):
        out = {
            "UserName": self.user_name,
            "Status": self.current_status(),
            "CreateDate": self.create_date,
            "ServiceSpecificCredentialId": self.id,
            "ServiceName": self.service,
        }
        if self.api_key:
            out["ServiceCredentialAlias"] = f"{self.user_name}-at-{self.account}"
        else:
            out["ServiceUserName"] = f"{self.user_name}-at-{self.account}"
        if self.expiration_date is not None:
            out["ExpirationDate"] = self.expiration_date
        return out

    def with_secret(self):
        out = self.metadata()
        if self.api_key:
            out["ServiceCredentialSecret"] = self.secret
        else:
            out["ServicePassword"] = self.secret
        return out


def _service_credentials(backend):
    """The account's service-specific credentials by ID, in creation order
    (moto's reset replaces the backend, and so clears them)."""
    creds = getattr(backend, "_keywarden_service_credentials", None)
    if creds is None:
        creds = backend._keywarden_service_credentials = {}
    return creds


def _iam_error(code, message):
    # moto finds an error's HTTP status in the model of the service whose
    # module raised it: IAMException, not a class of this module.
    from moto.iam.exceptions import IAMException

    return IAMException(code, message)


def _credential_user(self):
    """The user a service-specific credential call names, or, without
    UserName, the user whose access key signed it (as IAM does)."""
    name = self._get_param("UserName")
    if not name:
        try:
            name = self.backend.get_access_key_last_used(self.get_access_key())["user_name"]
        except Exception:
            name = None
        if not name:
            raise _iam_error(
                "NoSuchEntity", "The request was signed by no IAM user and names none."
            )
    self.backend.get_user(name)  # NoSuchEntity for an unknown user
    return name


def _find_service_credential(self, user_name):
    cred_id = self._get_param("ServiceSpecificCredentialId")
    cred = _service_credentials(self.backend).get(cred_id)
    if cred is None or cred.user_name != user_name:
        raise _iam_error(
            "NoSuchEntity",
            f"The Service Specific Credential with id {cred_id} cannot be found for user {user_name}.",
        )
    return cred


def _check_service(service):
    if service not in SERVICE_CREDENTIAL_SERVICES:
        raise _iam_error(
            "NotSupportedService",
            f"The specified service {service} does not support service-specific credentials.",
        )


def _create_service_specific_credential(self):
    from moto.core.responses import ActionResult

    user_name = self._get_param("UserName")
    self.backend.get_user(user_name)
    service = self._get_param("ServiceName")
    _check_service(service)
    age = self._get_int_param("CredentialAgeDays")
    if age is not None:
        if service not in API_KEY_SERVICES:
            raise _iam_error(
                "InvalidInput",
                f"CredentialAgeDays is only valid for long-term API keys, not for {service}.",
            )
        if not 1 <= age <= MAX_CREDENTIAL_AGE_DAYS:
            raise _iam_error(
                "InvalidInput",
                f"CredentialAgeDays {age} is outside 1 to {MAX_CREDENTIAL_AGE_DAYS}.",
            )
    creds = _service_credentials(self.backend)
    held = [c for c in creds.values() if c.user_name == user_name and c.service == service]
    if len(held) >= SERVICE_CREDENTIALS_PER_SERVICE:
        raise _iam_error(
            "LimitExceeded",
            f"Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: {SERVICE_CREDENTIALS_PER_SERVICE}",
        )
    cred = _ServiceCredential(self.current_account, user_name, service, age)
    creds[cred.id] = cred
    return ActionResult({"ServiceSpecificCredential": cred.with_secret()})


def _list_service_specific_credentials(self):
    import base64

    from moto.core.responses import ActionResult

    all_users = self._get_bool_param("AllUsers", False)
    if all_users and self._get_param("UserName"):
        raise _iam_error("InvalidInput", "AllUsers cannot be specified together with UserName.")
    service = self._get_param("ServiceName")
    if service:
        _check_service(service)
    creds = list(_service_credentials(self.backend).values())
    if not all_users:
        user_name = _credential_user(self)
        creds = [c for c in creds if c.user_name == user_name]
    if service:
        creds = [c for c in creds if c.service == service]
    # By user, then in creation order: a stable order to page through.
    order = {name: i for i, name in enumerate(sorted({c.user_name for c in creds}))}
    creds.sort(key=lambda c: order[c.user_name])

    max_items = self._get_int_param("MaxItems") or DEFAULT_MAX_ITEMS
    if not 1 <= max_items <= 1000:
        raise _iam_error("InvalidInput", f"MaxItems {max_items} is outside 1 to 1000.")
    start = 0
    marker = self._get_param("Marker")
    if marker:
        try:
            start = int(base64.urlsafe_b64decode(marker.encode()).decode())
        except Exception:
            raise _iam_error("InvalidInput", "Invalid Marker.")
    page = creds[start : start + max_items]
    result = {
        "ServiceSpecificCredentials": [c.metadata() for c in page],
        "IsTruncated": start + max_items < len(creds),
    }
    if result["IsTruncated"]:
        result["Marker"] = base64.urlsafe_b64encode(str(start + max_items).encode()).decode()
    return ActionResult(result)


def _update_service_specific_credential(self):
    from moto.core.responses import EmptyResult

    status = self._get_param("Status")
    if status not in ("Active", "Inactive"):
        raise _iam_error("InvalidInput", f"Status {status!r}: want Active or Inactive.")
    cred = _find_service_credential(self, _credential_user(self))
    cred.status = status
    return EmptyResult()


def _delete_service_specific_credential(self):
    from moto.core.responses import EmptyResult

    cred = _find_service_credential(self, _credential_user(self))
    del _service_credentials(self.backend)[cred.id]
    return EmptyResult()


def _reset_service_specific_credential(self):
    from moto.core.responses import ActionResult

    cred = _find_service_credential(self, _credential_user(self))
    cred.reset()
    return ActionResult({"ServiceSpecificCredential": cred.with_secret()})


def _delete_user(self, user_name):
    if any(c.user_name == user_name for c in _service_credentials(self).values()):
        self.get_user(user_name)
        raise _iam_error(
            "DeleteConflict", "Cannot delete entity, must remove service specific credentials first."
        )
    return _moto_delete_user(self, user_name)


def _user_to_csv(self):
    """moto's credential-report row, with cert_1_last_rotated and
    cert_2_last_rotated the upload dates of the user's first two signing
    certificates (creation order), where moto always writes N/A."""
    row = _moto_user_to_csv(self).rstrip("\n")
    # The last four columns are cert_1_active, cert_1_last_rotated,
    # cert_2_active, cert_2_last_rotated (a user name may hold commas).
    head, cert1_active, _, cert2_active, _ = row.rsplit(",", 4)
    rotated = [
        cert.upload_date.strftime("%Y-%m-%dT%H:%M:%S+00:00")
        for cert in list(self.signing_certificates.values())[:2]
    ]
    rotated += ["N/A"] * (2 - len(rotated))
    return ",".join([head, cert1_active, rotated[0], cert2_active, rotated[1]]) + "\n"


def _patch_iam():
    global _moto_get_credential_report, _moto_delete_user, _moto_user_to_csv
    from moto.iam.models import IAMBackend, User
    from moto.iam.responses import IamResponse

    _moto_get_credential_report = IAMBackend.get_credential_report
    IAMBackend.get_credential_report = _get_credential_report
    IamResponse.generate_credential_report = _generate_credential_report
    IamResponse.get_credential_report = _get_credential_report_response
    IamResponse.get_account_summary = _get_account_summary

    _moto_user_to_csv = User.to_csv
    User.to_csv = _user_to_csv
    _moto_delete_user = IAMBackend.delete_user
    IAMBackend.delete_user = _delete_user
    IamResponse.create_service_specific_credential = _create_service_specific_credential
    IamResponse.list_service_specific_credentials = _list_service_specific_credentials
    IamResponse.update_service_specific_credential = _update_service_specific_credential
    IamResponse.delete_service_specific_credential = _delete_service_specific_credential
    IamResponse.reset_service_specific_credential = _reset_service_specific_credential


_moto_get_credential_report = None
_moto_delete_user = None
_moto_user_to_csv = None
_patch_iam()

_moto_call = server.DomainDispatcherApplication.__call__

# One DynamoDB request at a time: see the module's docstring.
_dynamodb_lock = threading.Lock()


def _dispatch(self, environ, start_response):
    if (
        environ.get("PATH_INFO") == PASSWORD_USED_PATH
        and environ.get("REQUEST_METHOD") == "POST"
    ):
        return _password_used(environ, start_response)
    if (
        environ.get("PATH_INFO") == CREDENTIAL_REPORT_PATH
        and environ.get("REQUEST_METHOD") == "POST"
    ):
        return _credential_report(environ, start_response)
    if environ.get("PATH_INFO") == ROOT_PATH and environ.get("REQUEST_METHOD") == "POST":
        return _set_root(environ, start_response)
    if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
        with _dynamodb_lock:
            return _moto_call(self, environ, start_response)
    return _moto_call(self, environ, start_response)


server.DomainDispatcherApplication.__call__ = _dispatch

if __name__ == "__main__":
    server.main(sys.argv[1:])
