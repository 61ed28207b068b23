"""Template filters for pages users read in their language (README "Languages")."""

from typing import Any

from django import template

from apps.core.i18n import localize_digits

register = template.Library()


@register.filter
def digits(value: Any) -> str:
    """A number (or date) in the active language's digits: ५० in Nepali, 50 in English."""
    return localize_digits(value)
