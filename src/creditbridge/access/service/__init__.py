"""Use cases of the trust layer: institution admission, users and their login, sessions, API
clients and signed requests, abuse detection over data reads, who binds an account to an
enterprise or institution (invitations, approvals, notices), counted login and registration
attempts, and changes among the administrators that need a second one.

Services flush, never commit; every change and every login is written to the audit trail in the
same transaction (等保 2.0 §8.1.4 安全审计). Lookups by id go through ``access_*`` functions that
raise NotFound rather than reveal that something exists to an actor who may not see it. Settings
(the master secret, lockout and session limits, signature skew) are passed in by the entry point.

One module per topic; this package re-exports their public names, so callers import
``creditbridge.access.service`` as before.
"""

from __future__ import annotations

from creditbridge.access.service.abuse import (
    check_tally,
    ensure_not_throttled,
    list_flags,
    note_data_read,
    resolve_flag,
    tally_statement,
)
from creditbridge.access.service.admin_changes import (
    decide_admin_change,
    list_admin_changes,
    propose_admin_change,
)
from creditbridge.access.service.api_clients import (
    ALGORITHMS,
    CLIENT_OWNER_KINDS,
    SIGNATURE_HEADERS,
    IssuedClient,
    access_client,
    authenticate_request,
    clean_expired,
    create_client,
    get_client_by_key_id,
    list_clients,
    parse_timestamp,
    set_client_status,
)
from creditbridge.access.service.binding import (
    IssuedInvitation,
    accept_invitation,
    decide_member,
    get_open_invitation,
    has_org_admin,
    invite_institution_admin,
    invite_member,
    list_notifications,
    list_pending_members,
    list_pending_registrations,
    may_invite,
    members_of,
    review_registration,
)
from creditbridge.access.service.institutions import (
    INSTITUTION_SORTS,
    access_institution,
    apply_institution,
    check_assessment_item,
    count_institutions,
    count_matching_institutions,
    find_institutions,
    get_institution,
    get_institution_by_code,
    institution_names,
    list_institutions,
    transition_institution,
)
from creditbridge.access.service.registration import (
    register_enterprise_user,
    verify_legal_representative,
)
from creditbridge.access.service.sessions import (
    LOGIN_FAILED_MESSAGE,
    PENDING_MESSAGE,
    TOTP_FAILED_MESSAGE,
    ActiveSession,
    NewSession,
    change_password,
    end_session,
    login_with_password,
    pending_user,
    resolve_session,
    start_totp_enrolment,
    totp_secret_of,
    totp_uri,
    verify_second_factor,
)
from creditbridge.access.service.users import (
    access_user,
    actor_for_user,
    count_users,
    create_user,
    disable_user,
    get_user_by_username,
    hash_password,
    list_users,
    set_division,
    set_role,
)

__all__ = [
    "ALGORITHMS",
    "CLIENT_OWNER_KINDS",
    "INSTITUTION_SORTS",
    "LOGIN_FAILED_MESSAGE",
    "PENDING_MESSAGE",
    "SIGNATURE_HEADERS",
    "TOTP_FAILED_MESSAGE",
    "ActiveSession",
    "IssuedClient",
    "IssuedInvitation",
    "NewSession",
    "accept_invitation",
    "access_client",
    "access_institution",
    "access_user",
    "actor_for_user",
    "apply_institution",
    "authenticate_request",
    "change_password",
    "check_assessment_item",
    "check_tally",
    "clean_expired",
    "count_institutions",
    "count_matching_institutions",
    "count_users",
    "create_client",
    "create_user",
    "decide_admin_change",
    "decide_member",
    "disable_user",
    "end_session",
    "ensure_not_throttled",
    "find_institutions",
    "get_client_by_key_id",
    "get_institution",
    "get_institution_by_code",
    "get_open_invitation",
    "get_user_by_username",
    "has_org_admin",
    "hash_password",
    "institution_names",
    "invite_institution_admin",
    "invite_member",
    "list_admin_changes",
    "list_clients",
    "list_flags",
    "list_institutions",
    "list_notifications",
    "list_pending_members",
    "list_pending_registrations",
    "list_users",
    "login_with_password",
    "may_invite",
    "members_of",
    "note_data_read",
    "parse_timestamp",
    "pending_user",
    "propose_admin_change",
    "register_enterprise_user",
    "resolve_flag",
    "resolve_session",
    "review_registration",
    "set_client_status",
    "set_division",
    "set_role",
    "start_totp_enrolment",
    "tally_statement",
    "totp_secret_of",
    "totp_uri",
    "transition_institution",
    "verify_legal_representative",
    "verify_second_factor",
]
