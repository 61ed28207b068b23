"""Enforcement explanations: English in the back office, the reader's language for the user."""

from typing import Any

from django.utils.translation import gettext

from apps.core.i18n import translate
from apps.moderation.models import Enforcement


def explained(template: str, **params: Any) -> dict[str, Any]:
    """An Enforcement's explanation fields for a template marked with gettext_noop and its values
    (JSON values: numbers and text)."""
    return {
        "explanation": (template % params if params else template)[:500],
        "explanation_template": template,
        "explanation_params": params,
    }


def enforcement_explanation(enforcement: Enforcement) -> str:
    """The explanation in the active language, its numbers in that language's digits."""
    if enforcement.explanation_template:
        return translate(enforcement.explanation_template, **enforcement.explanation_params)
    return gettext(enforcement.explanation)  # rows from before templates: a fixed text is its own msgid
