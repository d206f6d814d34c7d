import type { ComponentChildren, InputHTMLAttributes } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { messageOf } from './api';

let fieldCounter = 0;
/** A stable id per component instance, for label/for pairs. */
export function useId(prefix: string): string {
  const ref = useRef<string | null>(null);
  ref.current ??= `${prefix}-${++fieldCounter}`;
  return ref.current;
}

interface FieldProps {
  label: string;
  value: string;
  onInput: (value: string) => void;
  type?: 'text' | 'email' | 'password' | 'tel';
  autocomplete?: string;
  required?: boolean;
  hint?: string;
  multiline?: boolean;
  minLength?: number;
}

/** A text input with its visible label (and an optional hint tied by aria-describedby). */
export function Field(props: FieldProps) {
  const id = useId('field');
  const hintId = props.hint ? `${id}-hint` : undefined;
  const common = {
    id,
    value: props.value,
    required: props.required,
    autocomplete: props.autocomplete,
    'aria-describedby': hintId,
    onInput: (e: Event) => props.onInput((e.currentTarget as HTMLInputElement).value),
  };
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      {props.multiline ? (
        <textarea rows={3} {...common} />
      ) : (
        <input
          {...({
            ...common,
            type: props.type ?? 'text',
            minLength: props.minLength,
          } as InputHTMLAttributes<HTMLInputElement>)}
        />
      )}
      {props.hint && (
        <p class="hint" id={hintId}>
          {props.hint}
        </p>
      )}
    </div>
  );
}

/**
 * Someone else's name and e-mail address (an invitee), both required. The browser is not to
 * fill in the user's own details here.
 */
export function NameAndEmail(props: {
  name: string;
  email: string;
  onName: (name: string) => void;
  onEmail: (email: string) => void;
}) {
  return (
    <>
      <Field label="Name" autocomplete="off" required value={props.name} onInput={props.onName} />
      <Field
        label="E-mail"
        type="email"
        autocomplete="off"
        required
        value={props.email}
        onInput={props.onEmail}
      />
    </>
  );
}

/** A password being chosen: the one rule the API applies, said before it refuses. */
export function NewPasswordField(props: {
  label: string;
  value: string;
  onInput: (value: string) => void;
}) {
  return (
    <Field
      label={props.label}
      type="password"
      autocomplete="new-password"
      required
      minLength={8}
      hint="At least 8 characters, not a common password. A few unrelated words work well."
      value={props.value}
      onInput={props.onInput}
    />
  );
}

export function Checkbox(props: {
  label: ComponentChildren;
  checked: boolean;
  onChange: (checked: boolean) => void;
  required?: boolean;
  disabled?: boolean;
}) {
  const id = useId('check');
  return (
    <div class="check">
      <input
        id={id}
        type="checkbox"
        checked={props.checked}
        required={props.required}
        disabled={props.disabled}
        onChange={(e) => props.onChange(e.currentTarget.checked)}
      />
      <label for={id}>{props.label}</label>
    </div>
  );
}

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p class="note error" role="alert">
      {messageOf(error)}
    </p>
  );
}

export function Spinner({ label = 'Loading…' }: { label?: string }) {
  return (
    <p class="loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" />
      {label}
    </p>
  );
}

export function Empty({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty">
      <p class="empty-title">{title}</p>
      {children && <p>{children}</p>}
    </div>
  );
}

/** A page's title under a line saying whose page it is, with room for a summary beside it. */
export function PageHead(props: { eyebrow: string; title: string; children?: ComponentChildren }) {
  return (
    <div class="page-head">
      <div>
        <p class="eyebrow">{props.eyebrow}</p>
        <h1>{props.title}</h1>
      </div>
      {props.children}
    </div>
  );
}

/** Visually hidden text that screen readers and accessible names include. */
export function Sr({ children }: { children: ComponentChildren }) {
  return <span class="sr-only">{children}</span>;
}

/** A list row's button; screen readers also hear which of the rows it acts on. */
export function RowButton(props: {
  label: string;
  /** Follows the label in the accessible name: the row's item. */
  sr: string;
  danger?: boolean;
  onClick: () => void;
}) {
  return (
    <button
      type="button"
      class={props.danger ? 'ghost danger-text' : 'ghost'}
      onClick={props.onClick}
    >
      {props.label}
      <Sr> {props.sr}</Sr>
    </button>
  );
}

/** A modal `<dialog>`: focus is trapped by the browser, Escape closes it. */
export function Modal(props: {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
  wide?: boolean;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId('dialog');
  useEffect(() => {
    const dialog = ref.current;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (dialog && !dialog.open) dialog.showModal();
    return () => {
      dialog?.close();
      // Focus goes back to what opened the dialog, or to the page when that is gone (deleted).
      setTimeout(() => {
        if (opener?.isConnected) opener.focus();
        else document.getElementById('main')?.focus();
      }, 0);
    };
  }, []);
  return (
    <dialog
      ref={ref}
      class={props.wide ? 'wide' : undefined}
      aria-labelledby={titleId}
      onClose={props.onClose}
      onCancel={(e) => {
        e.preventDefault();
        props.onClose();
      }}
    >
      <h2 id={titleId}>{props.title}</h2>
      {props.children}
    </dialog>
  );
}

/** Asks before a destructive action; shows the API's error if the action fails. */
export function Confirm(props: {
  title: string;
  body: ComponentChildren;
  action: string;
  danger?: boolean;
  onConfirm: () => Promise<void>;
  onClose: () => void;
}) {
  const { busy, error, run } = useSubmit();
  return (
    <Modal title={props.title} onClose={props.onClose}>
      <div class="dialog-body">{props.body}</div>
      <ErrorNote error={error} />
      <div class="actions">
        <button type="button" class="secondary" onClick={props.onClose}>
          Cancel
        </button>
        <button
          type="button"
          class={props.danger ? 'danger' : 'primary'}
          disabled={busy}
          onClick={() =>
            run(async () => {
              await props.onConfirm();
              props.onClose();
            })
          }
        >
          {props.action}
        </button>
      </div>
    </Modal>
  );
}

/**
 * For a form or button that sends one request at a time: it is busy while `work` runs, and
 * shows why `work` failed until it is tried again.
 */
export function useSubmit() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = (work: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    work().then(
      () => setBusy(false),
      (err: unknown) => {
        setError(err);
        setBusy(false);
      },
    );
  };
  return {
    busy,
    error,
    run,
    /** A form's submit handler: the browser does not load a page, `work` runs instead. */
    onSubmit: (work: () => Promise<void>) => (e: Event) => {
      e.preventDefault();
      run(work);
    },
  };
}

/** Loads something once its inputs are known; `reload` fetches again. */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]) {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({
    loading: true,
  });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const controller = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    load(controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) setState({ data, loading: false });
      },
      (error: unknown) => {
        if (!controller.signal.aborted) setState({ error, loading: false });
      },
    );
    return () => controller.abort();
  }, [...deps, tick]);
  return {
    ...state,
    reload: () => setTick((t) => t + 1),
    /** Changes the loaded data at once (e.g. without a deleted row), before the next reload. */
    mutate: (change: (data: T) => T) =>
      setState((s) => (s.data === undefined ? s : { ...s, data: change(s.data) })),
  };
}

/** A useLoad result, for a component that shows or reloads what another component loads. */
export type Load<T> = ReturnType<typeof useLoad<T>>;

export async function copyText(text: string): Promise<void> {
  await navigator.clipboard.writeText(text);
}
