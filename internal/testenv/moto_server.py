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
    return _moto_get_credential_report(self)


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


def _patch_iam():
    global _moto_get_credential_report
    from moto.iam.models import IAMBackend
    from moto.iam.responses import IamResponse

    _moto_get_credential_report = IAMBackend.get_credential_report
    IAMBackend.get_credential_report = _get_credential_report
    IamResponse.generate_credential_report = _generate_credential_report
    IamResponse.get_credential_report = _get_credential_report_response


_moto_get_credential_report = None
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
    if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
        with _dynamodb_lock:
            return _moto_call(self, environ, start_response)
    return _moto_call(self, environ, start_response)


server.DomainDispatcherApplication.__call__ = _dispatch

if __name__ == "__main__":
    server.main(sys.argv[1:])
