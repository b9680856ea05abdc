import "./styles.css";
import { ListKeysCommand } from "@aws-sdk/client-kms";
import { render } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { type Clients, clientsFor, SessionExpired, type ShownError, shownError } from "./aws";
import { ErrorBox, Notice } from "./components";
import { href, type Route, useRoute } from "./router";
import { clearSession, expiryReason, loadSession, type Session, saveSession } from "./session";
import { AuditPage } from "./views/audit";
import { CreateKeyPage } from "./views/create-key";
import { HealthPage } from "./views/health";
import { switchRegion } from "./views/key-material";
import { KeyPage } from "./views/key-page";
import { KeyStoresPage } from "./views/key-stores";
import { KeysPage } from "./views/keys";
import { TryItPage } from "./views/try-it";

export interface ConsoleConfig {
  readonly region: string;
  readonly features: readonly string[];
}

async function loadConfig(): Promise<ConsoleConfig> {
  try {
    const response = await fetch("config.json", { cache: "no-store" });
    if (response.ok) return (await response.json()) as ConsoleConfig;
  } catch {
    // The defaults below serve.
  }
  return { region: "us-east-1", features: [] };
}

function SignIn({
  config,
  notice,
  onSignedIn,
}: {
  config: ConsoleConfig;
  notice: string | null;
  onSignedIn: (s: Session) => void;
}) {
  const [error, setError] = useState<ShownError | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const now = Date.now();
    const session: Session = {
      accessKeyId: String(form.get("accessKeyId") ?? "").trim(),
      secretAccessKey: String(form.get("secretAccessKey") ?? "").trim(),
      region: String(form.get("region") ?? "").trim() || config.region,
      startedAt: now,
      lastActiveAt: now,
    };
    setBusy(true);
    setError(null);
    saveSession(session);
    try {
      // Any signed answer proves the credentials: a principal that may not list keys still signs in.
      await clientsFor(session).kms.send(new ListKeysCommand({ Limit: 1 }));
      onSignedIn(session);
    } catch (thrown) {
      const shown = shownError(thrown);
      if (shown.code === "AccessDeniedException") {
        const arn = /^User: (\S+) is not authorized/.exec(shown.message)?.[1];
        const signedIn = arn === undefined ? session : { ...session, principalArn: arn };
        saveSession(signedIn);
        onSignedIn(signedIn);
        return;
      }
      clearSession();
      setError(shown);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="sign-in">
      <h1>Sign in to Trent</h1>
      <p>
        Use an access key, as with the AWS CLI: the admin's is in the <code>credentials</code> file Trent wrote to its
        data directory. The console signs every request in this browser tab; the secret is never sent.
      </p>
      {notice && <Notice>{notice}</Notice>}
      <form onSubmit={submit} class="form">
        <label>
          Access key ID
          <input name="accessKeyId" required autocomplete="username" spellcheck={false} autofocus />
        </label>
        <label>
          Secret access key
          <input name="secretAccessKey" type="password" required autocomplete="current-password" />
        </label>
        <label>
          Region
          <input name="region" placeholder={config.region} autocomplete="off" spellcheck={false} />
        </label>
        <ErrorBox error={error} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}

const NAV: readonly { route: Route; label: string }[] = [
  { route: { page: "keys" }, label: "Keys" },
  { route: { page: "create" }, label: "Create key" },
  { route: { page: "keystores" }, label: "Key stores" },
  { route: { page: "try" }, label: "Try it" },
  { route: { page: "audit" }, label: "Audit trail" },
  { route: { page: "health" }, label: "Health" },
];

function Page({ route, clients }: { route: Route; clients: Clients }) {
  switch (route.page) {
    case "keys":
      return <KeysPage clients={clients} />;
    case "key":
      return <KeyPage clients={clients} keyId={route.keyId} />;
    case "create":
      return <CreateKeyPage clients={clients} />;
    case "try":
      return <TryItPage clients={clients} keyId={route.keyId} />;
    case "audit":
      return <AuditPage clients={clients} keyId={route.keyId} />;
    case "health":
      return <HealthPage />;
    case "keystores":
      return <KeyStoresPage clients={clients} />;
  }
}

function App({ config }: { config: ConsoleConfig }) {
  const route = useRoute();
  const [session, setSession] = useState<Session | null>(() => {
    const stored = loadSession();
    return stored !== null && expiryReason(stored, Date.now()) === null ? stored : null;
  });
  const [notice, setNotice] = useState<string | null>(() => {
    const stored = loadSession();
    return stored === null ? null : expiryReason(stored, Date.now());
  });
  const signOut = (message: string | null) => {
    clearSession();
    setSession(null);
    setNotice(message);
  };
  useEffect(() => {
    if (session === null) {
      clearSession();
      return;
    }
    const check = () => {
      const stored = loadSession();
      const reason = stored === null ? "You were signed out." : expiryReason(stored, Date.now());
      if (reason !== null) signOut(reason);
    };
    const timer = setInterval(check, 10_000);
    const expired = (event: PromiseRejectionEvent) => {
      if (event.reason instanceof SessionExpired) signOut(event.reason.message);
    };
    window.addEventListener("unhandledrejection", expired);
    window.addEventListener("focus", check);
    return () => {
      clearInterval(timer);
      window.removeEventListener("unhandledrejection", expired);
      window.removeEventListener("focus", check);
    };
  }, [session]);
  const clients = useMemo(() => (session === null ? null : clientsFor(session)), [session]);
  useEffect(() => {
    const heading = document.querySelector("main h1");
    document.title = `${heading?.textContent ?? "Trent"} · Trent console`;
  });
  if (session === null || clients === null) {
    return (
      <SignIn
        config={config}
        notice={notice}
        onSignedIn={(s) => {
          setNotice(null);
          setSession(s);
        }}
      />
    );
  }
  const current = route.page === "key" ? "keys" : route.page;
  return (
    <>
      <button type="button" class="skip" onClick={() => document.getElementById("main")?.focus()}>
        Skip to content
      </button>
      <header class="top">
        <span class="brand">Trent</span>
        <nav aria-label="Console">
          <ul>
            {NAV.map((item) => (
              <li key={item.label}>
                <a href={href(item.route)} aria-current={item.route.page === current ? "page" : undefined}>
                  {item.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="who" title={session.principalArn ?? session.accessKeyId}>
          {session.principalArn ?? session.accessKeyId}
        </span>
        <form
          class="inline region-switch"
          onSubmit={(event) => {
            event.preventDefault();
            const region = String(new FormData(event.currentTarget).get("region") ?? "").trim();
            if (region && region !== session.region) switchRegion(region);
          }}
        >
          <label>
            <span class="visually-hidden">Region</span>
            <input name="region" defaultValue={session.region} size={12} spellcheck={false} autocomplete="off" />
          </label>
          <button type="submit">Switch</button>
        </form>
        <button type="button" onClick={() => signOut("You signed out.")}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <Page route={route} clients={clients} />
      </main>
    </>
  );
}

loadConfig().then((config) => {
  const root = document.getElementById("app") as HTMLElement;
  root.textContent = "";
  render(<App config={config} />, root);
});
