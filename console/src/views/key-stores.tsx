import {
  ConnectCustomKeyStoreCommand,
  CreateCustomKeyStoreCommand,
  type CustomKeyStoresListEntry,
  DeleteCustomKeyStoreCommand,
  DescribeCustomKeyStoresCommand,
  DisconnectCustomKeyStoreCommand,
  UpdateCustomKeyStoreCommand,
} from "@aws-sdk/client-kms";
import { useState } from "preact/hooks";
import { type Clients, type ShownError, shownError } from "../aws";
import { ConfirmAction, ErrorBox, formatDate, Notice, useLoad } from "../components";

/** Custom key stores (CloudHSM): list, create, connect, disconnect, update, delete. Passwords are never kept. */
export function KeyStoresPage({ clients }: { clients: Clients }) {
  const stores = useLoad(async () => {
    const all: CustomKeyStoresListEntry[] = [];
    let marker: string | undefined;
    do {
      const page = await clients.kms.send(
        new DescribeCustomKeyStoresCommand({ ...(marker ? { Marker: marker } : {}) }),
      );
      all.push(...(page.CustomKeyStores ?? []));
      marker = page.Truncated ? page.NextMarker : undefined;
    } while (marker);
    return all;
  }, [clients]);
  const [done, setDone] = useState<string | null>(null);
  const [error, setError] = useState<ShownError | null>(null);
  const [busy, setBusy] = useState(false);
  const send = clients.kms.send.bind(clients.kms) as (command: unknown) => Promise<unknown>;
  const after = async (message: string, work: Promise<unknown>) => {
    await work;
    setDone(message);
    stores.reload();
  };
  return (
    <>
      <h1>Custom key stores</h1>
      {done && <Notice>{done}</Notice>}
      <ErrorBox error={stores.error} />
      <table class="grid">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">ID</th>
            <th scope="col">Cluster</th>
            <th scope="col">State</th>
            <th scope="col">Error code</th>
            <th scope="col">Created</th>
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {(stores.value ?? []).map((store) => (
            <StoreRow key={store.CustomKeyStoreId} store={store} send={send} after={after} />
          ))}
          {stores.value?.length === 0 && (
            <tr>
              <td colSpan={7}>No custom key stores.</td>
            </tr>
          )}
        </tbody>
      </table>
      <form
        class="grant-form"
        onSubmit={async (event) => {
          event.preventDefault();
          const form = event.currentTarget as HTMLFormElement;
          const data = new FormData(form);
          setError(null);
          setDone(null);
          setBusy(true);
          try {
            const answer = await clients.kms.send(
              new CreateCustomKeyStoreCommand({
                CustomKeyStoreName: String(data.get("name")),
                CloudHsmClusterId: String(data.get("cluster")),
                TrustAnchorCertificate: String(data.get("anchor")),
                KeyStorePassword: String(data.get("password")),
              }),
            );
            form.reset();
            setDone(`Custom key store ${answer.CustomKeyStoreId} is created; connect it to use it.`);
            stores.reload();
          } catch (thrown) {
            setError(shownError(thrown));
          } finally {
            (form.elements.namedItem("password") as HTMLInputElement).value = "";
            setBusy(false);
          }
        }}
      >
        <h2>Create a custom key store</h2>
        <label>
          Name
          <input name="name" required maxLength={256} />
        </label>
        <label>
          CloudHSM cluster ID
          <input name="cluster" required spellcheck={false} />
        </label>
        <label>
          Trust anchor certificate (PEM)
          <textarea name="anchor" rows={6} required spellcheck={false} />
        </label>
        <label>
          Key store password (kmsuser)
          <input name="password" type="password" required minLength={7} maxLength={32} autocomplete="off" />
        </label>
        <ErrorBox error={error} />
        <button type="submit" class="primary" disabled={busy}>
          Create key store
        </button>
      </form>
    </>
  );
}

function StoreRow({
  store,
  send,
  after,
}: {
  store: CustomKeyStoresListEntry;
  send: (command: unknown) => Promise<unknown>;
  after: (message: string, work: Promise<unknown>) => Promise<void>;
}) {
  const id = store.CustomKeyStoreId as string;
  const state = store.ConnectionState;
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [cluster, setCluster] = useState("");
  return (
    <tr>
      <td>{store.CustomKeyStoreName}</td>
      <td class="mono small">{id}</td>
      <td class="mono small">{store.CloudHsmClusterId ?? "—"}</td>
      <td>{state}</td>
      <td>{store.ConnectionErrorCode ?? "—"}</td>
      <td>{formatDate(store.CreationDate)}</td>
      <td class="actions">
        {(state === "DISCONNECTED" || state === "FAILED") && (
          <ConfirmAction
            label={`Connect ${store.CustomKeyStoreName}`}
            title="Connect the custom key store"
            confirmLabel="Connect"
            onConfirm={() =>
              after(`Key store ${id} is connecting.`, send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id })))
            }
          >
            <p>
              Connect custom key store <span class="mono">{id}</span> to its cluster, so that its keys can be used. The
              connection state shows CONNECTING, then CONNECTED or FAILED with an error code.
            </p>
          </ConfirmAction>
        )}
        {(state === "CONNECTED" || state === "CONNECTING" || state === "FAILED") && (
          <ConfirmAction
            label={`Disconnect ${store.CustomKeyStoreName}`}
            title="Disconnect the custom key store"
            confirmLabel="Disconnect"
            danger
            onConfirm={() =>
              after(
                `Key store ${id} is disconnected.`,
                send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: id })),
              )
            }
          >
            <p>
              Disconnect custom key store <span class="mono">{id}</span>. Until it is connected again, every
              cryptographic operation with its keys fails, and no key can be created in it.
            </p>
          </ConfirmAction>
        )}
        {state === "DISCONNECTED" && (
          <ConfirmAction
            label={`Update ${store.CustomKeyStoreName}`}
            title="Update the custom key store"
            confirmLabel="Update"
            onConfirm={async () => {
              try {
                await after(
                  `Key store ${id} is updated.`,
                  send(
                    new UpdateCustomKeyStoreCommand({
                      CustomKeyStoreId: id,
                      ...(name ? { NewCustomKeyStoreName: name } : {}),
                      ...(password ? { KeyStorePassword: password } : {}),
                      ...(cluster ? { CloudHsmClusterId: cluster } : {}),
                    }),
                  ),
                );
              } finally {
                setPassword("");
              }
            }}
          >
            <p>
              Change the name, kmsuser password or cluster (a backup of the same cluster) of disconnected key store{" "}
              <span class="mono">{id}</span>. Leave a field empty to keep it.
            </p>
            <label>
              New name
              <input value={name} onInput={(e) => setName(e.currentTarget.value)} maxLength={256} />
            </label>
            <label>
              New key store password
              <input
                type="password"
                value={password}
                onInput={(e) => setPassword(e.currentTarget.value)}
                autocomplete="off"
              />
            </label>
            <label>
              New CloudHSM cluster ID
              <input value={cluster} onInput={(e) => setCluster(e.currentTarget.value)} spellcheck={false} />
            </label>
          </ConfirmAction>
        )}
        {state === "DISCONNECTED" && (
          <ConfirmAction
            label={`Delete ${store.CustomKeyStoreName}`}
            title="Delete the custom key store"
            confirmLabel="Delete key store"
            danger
            onConfirm={() =>
              after(`Key store ${id} is deleted.`, send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: id })))
            }
          >
            <p>
              Delete custom key store <span class="mono">{id}</span>. Only a disconnected store with no KMS keys in it
              can be deleted; the cluster and its HSMs are not touched.
            </p>
          </ConfirmAction>
        )}
      </td>
    </tr>
  );
}
