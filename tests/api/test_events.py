"""The event log: waiting streams hold no thread and wake when any thread publishes."""

from __future__ import annotations

import asyncio
import threading

from converge.api.service import Events


def test_idle_waits_hold_no_thread_and_wake_on_a_publish_from_another_thread():
    events = Events()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        threads = threading.active_count()
        waits = [asyncio.create_task(events.wait(0, 30)) for _ in range(300)]
        await asyncio.sleep(0.2)
        assert threading.active_count() == threads and not any(w.done() for w in waits)
        start = loop.time()
        threading.Thread(target=events.publish, args=({"event": "edit"},)).start()
        results = await asyncio.gather(*waits)
        assert loop.time() - start < 5 and all([r["event"] for r in result] == ["edit"] for result in results)
        assert events.waiters == set()
        assert await events.wait(0, 30) == events.items  # nothing to wait for
        assert await events.wait(1, 0.05) == []  # times out empty

    asyncio.run(main())
