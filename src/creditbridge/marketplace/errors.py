"""Refusals of the marketplace, each with a stable code."""

from __future__ import annotations

from creditbridge.core.errors import Conflict, ValidationFailed


class DemandTaken(Conflict):
    """Raised when an institution grabs or accepts a demand another institution already holds,
    or that is no longer open to it."""

    code = "CB-MARKET-DEMAND-TAKEN"
    title = "需求已被其他机构承接"


class OutsideProductRange(ValidationFailed):
    """Raised when an amount or term lies outside the product's range, or the enterprise fails
    the product's eligibility rules."""

    code = "CB-MARKET-OUTSIDE-PRODUCT"
    title = "不符合产品条件"


class AboveApproved(Conflict):
    """Raised when a disbursement exceeds the approved amount."""

    code = "CB-MARKET-ABOVE-APPROVED"
    title = "放款金额超过审批金额"


class NoEligibleProduct(Conflict):
    """Raised when an institution takes a demand none of its published products fits."""

    code = "CB-MARKET-NO-ELIGIBLE-PRODUCT"
    title = "本机构没有符合条件的产品"
