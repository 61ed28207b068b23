"""apps.live.script_batch on the suite's Redis: one loop turn's calls share a pipeline, each gets its own answer."""

import asyncio

import pytest
import redis.asyncio as redis
from django.conf import settings
from redis.exceptions import ResponseError

from apps.live.script_batch import BatchedScript

# KEYS: a key; ARGV: a number. Fails for a negative number (to see one call's error stay its own).
SCRIPT = """
if tonumber(ARGV[1]) < 0 then return redis.error_reply('negative') end
return redis.call('INCRBY', KEYS[1], ARGV[1])
"""


@pytest.fixture
def key():
    return f"{settings.REDIS_KEY_PREFIX}test:script_batch"


def test_calls_of_one_turn_share_a_pipeline_and_each_gets_its_own_result_or_error(key):
    async def scenario():
        client = redis.Redis.from_url(settings.REDIS_URL)
        try:
            await client.delete(key)
            await client.script_flush()  # Redis does not know the script yet: the batch loads it
            script = BatchedScript(client, SCRIPT)
            sent = []
            original = client.pipeline

            def pipeline(**kwargs):
                sent.append(kwargs)
                return original(**kwargs)

            client.pipeline = pipeline
            calls = [script(keys=[key], args=[n]) for n in (1, 2, -1, 4)]
            results = await asyncio.gather(*calls, return_exceptions=True)
            assert len(sent) == 2  # one pipeline, sent again once the script was loaded
            assert results[:2] == [1, 3] and results[3] == 7
            assert isinstance(results[2], ResponseError) and "negative" in str(results[2])
            # a call alone goes as one command
            assert await script(keys=[key], args=[10]) == 17
            assert len(sent) == 2
        finally:
            await client.delete(key)
            await client.aclose()

    asyncio.run(scenario())
