"""A starter word list (common insults and swear words, nothing graphic); moderators extend it in the admin."""

from django.db import migrations
from django.db.models.functions import Lower

STARTER = {
    "en": ["fuck", "fucking", "motherfucker", "shit", "bitch", "bastard", "asshole", "slut", "whore"],
    "ne": ["मुजी", "रण्डी", "रन्डी", "बेश्या", "मादरचोद", "खाते"],
    "ne-latn": ["muji", "randi", "machikne", "madarchod", "besya", "kukur ko chhora"],
}


def seed(apps, schema_editor):
    BannedWord = apps.get_model("moderation", "BannedWord")
    existing = set(BannedWord.objects.annotate(t=Lower("term")).values_list("t", flat=True))
    BannedWord.objects.bulk_create(
        [
            BannedWord(term=term, language=language)
            for language, terms in STARTER.items()
            for term in terms
            if term.lower() not in existing
        ]
    )


def unseed(apps, schema_editor):
    BannedWord = apps.get_model("moderation", "BannedWord")
    BannedWord.objects.filter(term__in=[t for terms in STARTER.values() for t in terms], created_by=None).delete()


class Migration(migrations.Migration):
    dependencies = [("moderation", "0001_chat_filter")]

    operations = [migrations.RunPython(seed, unseed)]
