import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ThrottlingException } from "../../src/domain/errors.js";
import { AWS_DEFAULT_QUOTAS, operationQuotaClass } from "../../src/quota/quota-classes.js";
import { AWS_DEFAULT_SETTINGS } from "../../src/quota/quota-settings.js";
import { type RequestQuotas, TokenBucketQuotas, UnlimitedQuotas } from "../../src/quota/request-quotas.js";
import { testCaller } from "../support/services.js";

const ALICE = testCaller("111122223333");
const BOB = testCaller("444455556666");

function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let now = 1_000;
  return {
    now: () => now,
    advance: (ms) => {
      now += ms;
    },
  };
}

/** How many of `attempts` calls were admitted, all at one instant. */
function admitted(attempts: number, call: () => void): number {
  let count = 0;
  for (let i = 0; i < attempts; i++) {
    try {
      call();
      count++;
    } catch (error) {
      if (!(error instanceof ThrottlingException)) throw error;
    }
  }
  return count;
}

describe("the audit API's request quotas", () => {
  test("LookupEvents has CloudTrail's rate, two per second, and VerifyAuditTrail its own bucket", () => {
    assert.equal(AWS_DEFAULT_QUOTAS.LookupEvents, 2);
    assert.equal(operationQuotaClass("LookupEvents"), "LookupEvents");
    assert.equal(operationQuotaClass("VerifyAuditTrail"), "VerifyAuditTrail");
  });

  test("LookupEvents admits a burst of 20 (a console load), then two per second", () => {
    const clock = manualClock();
    const quotas = new TokenBucketQuotas(AWS_DEFAULT_SETTINGS, { clock: clock.now });
    assert.equal(
      admitted(25, () => quotas.admit(ALICE, "LookupEvents")),
      20,
    );
    // Another account, and the other audit operation, have buckets of their own.
    assert.equal(
      admitted(25, () => quotas.admit(BOB, "LookupEvents")),
      20,
    );
    assert.equal(
      admitted(5, () => quotas.admit(ALICE, "VerifyAuditTrail")),
      2,
    );
    clock.advance(1_000);
    assert.equal(
      admitted(5, () => quotas.admit(ALICE, "LookupEvents")),
      2,
    );
    assert.equal(
      admitted(5, () => quotas.admit(ALICE, "VerifyAuditTrail")),
      2,
    );
    // Idle for ten seconds, the bucket is full again.
    clock.advance(10_000);
    assert.equal(
      admitted(25, () => quotas.admit(ALICE, "LookupEvents")),
      20,
    );
  });

  test("the console's page loads, a second apart, and a Load more of 20 pages are not throttled", () => {
    const clock = manualClock();
    const quotas = new TokenBucketQuotas(AWS_DEFAULT_SETTINGS, { clock: clock.now });
    for (let load = 0; load < 30; load++) {
      // A page load: VerifyAuditTrail and the first LookupEvents page.
      quotas.admit(ALICE, "VerifyAuditTrail");
      quotas.admit(ALICE, "LookupEvents");
      clock.advance(1_000);
    }
    clock.advance(10_000);
    // Load more with filters the server cannot apply: up to 20 pages read in a row.
    for (let page = 0; page < 20; page++) quotas.admit(ALICE, "LookupEvents");
  });

  test("with quotas off (the test harnesses), nothing is throttled", () => {
    const quotas: RequestQuotas = new UnlimitedQuotas();
    for (let i = 0; i < 1_000; i++) quotas.admit(ALICE, "LookupEvents");
  });
});
