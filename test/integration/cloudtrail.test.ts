import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CloudTrailClient, LookupEventsCommand } from "@aws-sdk/client-cloudtrail";
import { CreateKeyCommand, DescribeKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { trentCli } from "./trent-cli.js";
import { startTrentProcess, type TrentProcess } from "./trent-process.js";

/** CloudTrail's LookupEvents over Trent's audit trail, as the web console and the SDKs read it. */
describe("LookupEvents (the CloudTrail API over the audit trail)", () => {
  let trent: TrentProcess;
  let cloudTrail: CloudTrailClient;
  let keyId: string;

  before(async () => {
    trent = await startTrentProcess();
    const config = { endpoint: trent.url, region: trent.region, credentials: trent.credentials };
    cloudTrail = new CloudTrailClient(config);
    const kms = new KMSClient(config);
    keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId as string;
    for (let i = 0; i < 4; i++) await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
    await kms.send(new DescribeKeyCommand({ KeyId: "alias/none" })).catch(() => undefined);
    kms.destroy();
  });

  after(async () => {
    cloudTrail?.destroy();
    await trent?.stop();
  });

  it("returns the events newest first, a page at a time", async () => {
    const first = await cloudTrail.send(
      new LookupEventsCommand({
        LookupAttributes: [{ AttributeKey: "EventName", AttributeValue: "DescribeKey" }],
        MaxResults: 3,
      }),
    );
    assert.equal(first.Events?.length, 3);
    assert.ok(first.NextToken);
    assert.equal(JSON.parse(first.Events?.[0]?.CloudTrailEvent ?? "{}").errorCode, "NotFoundException");
    const times = (first.Events ?? []).map((event) => event.EventTime?.getTime() ?? 0);
    assert.deepEqual(
      times,
      [...times].sort((a, b) => b - a),
    );
    const rest = await cloudTrail.send(
      new LookupEventsCommand({
        LookupAttributes: [{ AttributeKey: "EventName", AttributeValue: "DescribeKey" }],
        MaxResults: 50,
        NextToken: first.NextToken,
      }),
    );
    assert.equal(rest.Events?.length, 2);
    assert.equal(rest.NextToken, undefined);
    const ids = new Set([...(first.Events ?? []), ...(rest.Events ?? [])].map((event) => event.EventId));
    assert.equal(ids.size, 5);
  });

  it("filters by the key (ResourceName) and user name, and by time", async () => {
    const byKey = await cloudTrail.send(
      new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: "ResourceName", AttributeValue: keyId }] }),
    );
    assert.ok((byKey.Events ?? []).length >= 4);
    assert.ok((byKey.Events ?? []).every((event) => event.Resources?.some((r) => r.ResourceName?.endsWith(keyId))));
    const byUser = await cloudTrail.send(
      new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: "Username", AttributeValue: "admin" }] }),
    );
    assert.ok((byUser.Events ?? []).length >= 6);
    const none = await cloudTrail.send(new LookupEventsCommand({ EndTime: new Date(Date.now() - 3_600_000) }));
    assert.deepEqual(none.Events, []);
  });

  it("answers CloudTrail's errors for a bad request", async () => {
    await assert.rejects(
      cloudTrail.send(
        new LookupEventsCommand({
          LookupAttributes: [
            { AttributeKey: "EventName", AttributeValue: "Encrypt" },
            { AttributeKey: "Username", AttributeValue: "admin" },
          ],
        }),
      ),
      { name: "InvalidLookupAttributesException" },
    );
    await assert.rejects(cloudTrail.send(new LookupEventsCommand({ MaxResults: 51 })), {
      name: "InvalidMaxResultsException",
    });
    await assert.rejects(cloudTrail.send(new LookupEventsCommand({ MaxResults: 0 })), {
      name: "InvalidMaxResultsException",
    });
    await assert.rejects(cloudTrail.send(new LookupEventsCommand({ NextToken: "not-a-token" })), {
      name: "InvalidNextTokenException",
    });
    // A token of the right form whose positions are not positions.
    const forged = Buffer.from(
      JSON.stringify({
        eventTime: "2030-01-01T00:00:00Z",
        chain: "audit",
        sequence: 1,
        start: null,
        end: null,
        positions: { audit: "/etc/passwd" },
      }),
    ).toString("base64url");
    await assert.rejects(cloudTrail.send(new LookupEventsCommand({ NextToken: forged })), {
      name: "InvalidNextTokenException",
    });
    assert.deepEqual((await cloudTrail.send(new LookupEventsCommand({ EventCategory: "insight" }))).Events, []);
    await assert.rejects(
      cloudTrail.send(new LookupEventsCommand({ StartTime: new Date(), EndTime: new Date(Date.now() - 60_000) })),
      { name: "InvalidTimeRangeException" },
    );
  });

  it("is denied to a principal without cloudtrail:LookupEvents", async () => {
    const storeArgs = trent.storeUrl === undefined ? [] : ["--store", trent.storeUrl];
    const created = await trentCli(["access-key", "create", "--user", "carol", "--data", trent.dataDir, ...storeArgs]);
    assert.equal(created.code, 0, created.stderr);
    const carol = JSON.parse(created.stdout) as { AccessKeyId: string; SecretAccessKey: string };
    const client = new CloudTrailClient({
      endpoint: trent.url,
      region: trent.region,
      credentials: { accessKeyId: carol.AccessKeyId, secretAccessKey: carol.SecretAccessKey },
    });
    try {
      await assert.rejects(client.send(new LookupEventsCommand({})), (error: Error) => {
        assert.equal(error.name, "AccessDeniedException");
        assert.match(error.message, /user\/carol is not authorized to perform: cloudtrail:LookupEvents/);
        return true;
      });
    } finally {
      client.destroy();
    }
    const denied = await cloudTrail.send(
      new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: "Username", AttributeValue: "carol" }] }),
    );
    const record = JSON.parse(denied.Events?.[0]?.CloudTrailEvent ?? "{}");
    assert.equal(record.eventSource, "cloudtrail.amazonaws.com");
    assert.equal(record.eventName, "LookupEvents");
    assert.equal(record.errorCode, "AccessDeniedException");
  });
});

describe("LookupEvents under the request quotas", () => {
  let trent: TrentProcess;

  before(async () => {
    trent = await startTrentProcess([], { quotas: "default" });
  });

  after(async () => {
    await trent?.stop();
  });

  it("throttles past CloudTrail's rate with ThrottlingException", async () => {
    const client = new CloudTrailClient({
      endpoint: trent.url,
      region: trent.region,
      credentials: trent.credentials,
      maxAttempts: 1,
    });
    try {
      const outcomes: string[] = [];
      for (let i = 0; i < 30; i++) {
        try {
          await client.send(new LookupEventsCommand({ MaxResults: 1 }));
          outcomes.push("ok");
        } catch (error) {
          assert.equal((error as Error).name, "ThrottlingException");
          assert.equal((error as Error).message, "Rate exceeded");
          assert.equal((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode, 400);
          outcomes.push("throttled");
        }
      }
      // The burst a console load may use, then two per second.
      assert.ok(
        outcomes.slice(0, 10).every((outcome) => outcome === "ok"),
        outcomes.join(" "),
      );
      assert.ok(outcomes.includes("throttled"), outcomes.join(" "));
    } finally {
      client.destroy();
    }
  });
});
