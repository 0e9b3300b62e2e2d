import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError, runRequest, type RestRequest, type RestResponse } from './api';
import { onLinkClick } from './router';

export function Link(props: { href: string; class?: string; children: ComponentChildren; 'aria-current'?: 'page' | undefined }) {
  return <a href={props.href} class={props.class} aria-current={props['aria-current']} onClick={onLinkClick}>{props.children}</a>;
}

export function formatTime(unixSeconds: string | number | null | undefined): string {
  if (unixSeconds === null || unixSeconds === undefined || unixSeconds === '') return '—';
  const date = new Date(Number(unixSeconds) * 1000);
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge badge-${status}`}>{status}</span>;
}

export function PageHeader(props: { title: string; description?: ComponentChildren; children?: ComponentChildren }) {
  return (
    <header class="page-header">
      <div>
        <h1>{props.title}</h1>
        {props.description && <p class="page-description">{props.description}</p>}
      </div>
      {props.children && <div class="page-actions">{props.children}</div>}
    </header>
  );
}

export function EmptyState(props: { title: string; children: ComponentChildren; action?: ComponentChildren; icon?: string }) {
  return (
    <div class="empty-state">
      <div class="empty-icon" aria-hidden="true">{props.icon ?? '◎'}</div>
      <h2>{props.title}</h2>
      <p>{props.children}</p>
      {props.action}
    </div>
  );
}

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  return <p class="error-note" role="alert">{message}</p>;
}

export function CopyButton({ value, label = 'Copy' }: { value: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
    } catch {
      // Without clipboard permission: select-and-copy through a hidden field.
      const field = document.createElement('textarea');
      field.value = value;
      document.body.append(field);
      field.select();
      document.execCommand('copy');
      field.remove();
    }
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  };
  return <button type="button" class="button button-secondary button-small" onClick={copy}>{copied ? 'Copied' : label}</button>;
}

export function DownloadButton(props: { filename: string; contents: string; label?: string }) {
  const download = () => {
    const url = URL.createObjectURL(new Blob([props.contents], { type: 'application/octet-stream' }));
    const anchor = document.createElement('a');
    anchor.href = url;
    anchor.download = props.filename;
    document.body.append(anchor);
    anchor.click();
    anchor.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };
  return <button type="button" class="button button-secondary button-small" onClick={download}>{props.label ?? 'Download'}</button>;
}

/** A secret shown once: its value, Copy and Download, and a warning that it will not come back. */
export function SecretReveal(props: {
  title: string; fields: { label: string; value: string; secret?: boolean }[];
  download?: { filename: string; contents: string }; onDismiss: () => void; note: string;
}) {
  return (
    <section class="secret-reveal" role="region" aria-label={props.title}>
      <h2>{props.title}</h2>
      <p class="warning"><strong>Copy it now.</strong> {props.note}</p>
      {props.fields.map((field) => (
        <div class="secret-field" key={field.label}>
          <span class="secret-label" id={`secret-${field.label}`}>{field.label}</span>
          <div class="secret-row">
            <code class={field.secret ? 'secret-value is-secret' : 'secret-value'} aria-labelledby={`secret-${field.label}`} data-secret={field.label}>{field.value}</code>
            <CopyButton value={field.value} />
          </div>
        </div>
      ))}
      <div class="secret-actions">
        {props.download && <DownloadButton filename={props.download.filename} contents={props.download.contents} />}
        <button type="button" class="button button-primary button-small" onClick={props.onDismiss}>I have saved it</button>
      </div>
    </section>
  );
}

function statusClass(status: number): string {
  if (status < 300) return 'ok';
  if (status < 500) return 'client-error';
  return 'server-error';
}

/**
 * The REST request an action stands for (method, path, JSON body), a "Run Request" button
 * that runs it in the current environment, and the response.
 */
export function RequestPanel(props: {
  environmentId: string; request: RestRequest; title: string;
  runLabel?: string; danger?: boolean; children?: ComponentChildren; footer?: ComponentChildren;
  onResponse?: (response: RestResponse) => void;
}) {
  const [running, setRunning] = useState(false);
  const [response, setResponse] = useState<RestResponse | null>(null);
  const [error, setError] = useState<unknown>(null);
  const { method, path, body } = props.request;
  const run = async () => {
    setRunning(true);
    setError(null);
    try {
      const result = await runRequest(props.environmentId, props.request);
      setResponse(result);
      props.onResponse?.(result);
    } catch (e) {
      setError(e instanceof ApiError ? e : new Error(String(e)));
    } finally {
      setRunning(false);
    }
  };
  const headingId = `request-${props.title.replace(/\W+/g, '-').toLowerCase()}`;
  return (
    <section class="request-panel" aria-labelledby={headingId}>
      <h2 id={headingId}>{props.title}</h2>
      {props.children}
      <div class="request" aria-label="Request">
        <div class="request-line">
          <span class={`method method-${method.toLowerCase()}`}>{method}</span>
          <code class="request-path">{path}</code>
        </div>
        {body !== undefined && <pre class="code" aria-label="Request body">{JSON.stringify(body, null, 2)}</pre>}
      </div>
      <div class="request-actions">
        <button type="button" class={props.danger ? 'button button-danger' : 'button button-primary'} onClick={run} disabled={running}>
          {running ? 'Running…' : props.runLabel ?? 'Run Request'}
        </button>
        <span class="hint">Runs in the selected environment as a REST API call.</span>
      </div>
      <ErrorNote error={error} />
      {response && (
        <div class="response" role="status" aria-label="Response">
          <div class="response-status">
            <span class={`status status-${statusClass(response.status)}`}>{response.status} {response.statusText}</span>
          </div>
          {response.body !== null && <pre class="code" aria-label="Response body">{JSON.stringify(response.body, null, 2)}</pre>}
        </div>
      )}
      {props.footer}
    </section>
  );
}

/** Items per page of a Mux list (the REST API's default `limit`). */
export const PAGE_SIZE = 25;

/** Previous and next through a Mux list (1-based `page`); hidden while everything fits. */
export function Pager(props: { page: number; count: number; label: string; onPage: (page: number) => void }) {
  const hasNext = props.count === PAGE_SIZE;
  if (props.page === 1 && !hasNext) return null;
  return (
    <nav class="pager" aria-label={`${props.label} pages`}>
      <button type="button" class="button button-secondary button-small" disabled={props.page <= 1}
        onClick={() => props.onPage(props.page - 1)}>Previous page</button>
      <span class="muted" aria-live="polite">Page {props.page}</span>
      <button type="button" class="button button-secondary button-small" disabled={!hasNext}
        onClick={() => props.onPage(props.page + 1)}>Next page</button>
    </nav>
  );
}
