"""Pages of the marketplace, one module per desk: lending (demands, applications, loans, inbox) and
products (products, reviews, whitelist, outcomes). Handlers parse forms and call the service; rules
live there."""

from fastapi import APIRouter

from creditbridge.marketplace.pages import lending, products

router = APIRouter(include_in_schema=False)
router.include_router(lending.router)
router.include_router(products.router)

__all__ = ["router"]
