import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { type ShownError, shownError } from "./aws";

/** An AWS error, as AWS worded it, announced to screen readers. */
export function ErrorBox({ error }: { error: ShownError | null }) {
  if (error === null) return null;
  return (
    <div class="error" role="alert">
      <strong>{error.code}</strong>: {error.message}
    </div>
  );
}

export function Notice({ children }: { children: ComponentChildren }) {
  return (
    <div class="notice" role="status">
      {children}
    </div>
  );
}

/**
 * A modal dialog on the browser's own <dialog>: the page behind it is inert (focus stays inside),
 * Escape closes it, and focus returns to what opened it.
 */
export function Dialog({
  title,
  onClose,
  children,
}: {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    const opener = document.activeElement as HTMLElement | null;
    dialog?.showModal();
    const cancel = (event: Event) => {
      event.preventDefault();
      onClose();
    };
    dialog?.addEventListener("cancel", cancel);
    return () => {
      dialog?.removeEventListener("cancel", cancel);
      if (dialog?.open) dialog.close();
      opener?.focus();
    };
  }, []);
  return (
    <dialog ref={ref} aria-labelledby="dialog-title" class="dialog">
      <h2 id="dialog-title">{title}</h2>
      {children}
    </dialog>
  );
}

/**
 * A button whose action runs only after a dialog that says what it does; the dialog shows AWS's
 * error if the action fails, and closes when it succeeds.
 */
export function ConfirmAction({
  label,
  title,
  confirmLabel,
  danger = false,
  disabled = false,
  onConfirm,
  children,
}: {
  label: string;
  title: string;
  confirmLabel: string;
  danger?: boolean;
  disabled?: boolean;
  onConfirm: () => Promise<void>;
  children: ComponentChildren;
}) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ShownError | null>(null);
  const confirm = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onConfirm();
      setOpen(false);
    } catch (thrown) {
      setError(shownError(thrown));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" class={danger ? "danger" : ""} disabled={disabled} onClick={() => setOpen(true)}>
        {label}
      </button>
      {open && (
        <Dialog title={title} onClose={() => setOpen(false)}>
          <form onSubmit={confirm}>
            <div class="dialog-body">{children}</div>
            <ErrorBox error={error} />
            <div class="actions">
              <button type="button" onClick={() => setOpen(false)}>
                Cancel
              </button>
              <button type="submit" class={danger ? "danger primary" : "primary"} disabled={busy}>
                {busy ? "Working…" : confirmLabel}
              </button>
            </div>
          </form>
        </Dialog>
      )}
    </>
  );
}

/** Runs a load when its inputs change; keeps its result, error and a reload. */
export function useLoad<T>(load: () => Promise<T>, inputs: readonly unknown[]) {
  const [state, setState] = useState<{ value: T | null; error: ShownError | null; loading: boolean }>({
    value: null,
    error: null,
    loading: true,
  });
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let current = true;
    setState((previous) => ({ ...previous, loading: true }));
    load().then(
      (value) => current && setState({ value, error: null, loading: false }),
      (thrown) => current && setState({ value: null, error: shownError(thrown), loading: false }),
    );
    return () => {
      current = false;
    };
  }, [...inputs, generation]);
  return { ...state, reload: () => setGeneration((g) => g + 1) };
}

export function formatDate(value: Date | number | string | undefined): string {
  if (value === undefined) return "—";
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime())
    ? "—"
    : date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}
