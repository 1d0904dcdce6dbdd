import { describe, expect, it } from "vitest";
import { periodicYield, yieldToEventLoop } from "../src/index.js";

const busy = (ms: number) => {
  const t = Date.now();
  while (Date.now() - t < ms);
};

describe("event-loop yields", () => {
  it("yieldToEventLoop lets queued callbacks and due timers run, where awaiting a settled promise does not", async () => {
    let queued = false;
    let timer = false;
    setImmediate(() => (queued = true));
    setTimeout(() => (timer = true), 0);
    busy(5);
    await Promise.resolve();
    expect([queued, timer]).toEqual([false, false]);
    await yieldToEventLoop();
    expect(queued).toBe(true);
    // Whether the timer phase comes before this check phase depends on where in the loop the
    // test started; a second turn passes a timer phase in any case.
    await yieldToEventLoop();
    expect(timer).toBe(true);
  });

  it("periodicYield gives a turn only once its interval has passed", async () => {
    let turns = 0;
    const queue = () => setImmediate(() => turns++);
    const never = periodicYield(60_000);
    queue();
    busy(5);
    await never();
    expect(turns).toBe(0);
    const soon = periodicYield(10);
    busy(15);
    await soon();
    expect(turns).toBe(1);
    // The interval restarts at the turn: an immediate second call stays in the microtask queue.
    queue();
    await soon();
    expect(turns).toBe(1);
    await yieldToEventLoop();
    expect(turns).toBe(2);
  });
});
