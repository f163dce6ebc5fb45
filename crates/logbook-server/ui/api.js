// Talks to Logbook's /v1 API as the signed-in page: with the HttpOnly session
// cookie (set by signing in with an API key), or, when embedded, with the viewer
// token the host product put in the first URL. That token is moved out of the URL
// at once and kept in this tab's sessionStorage, then sent as a bearer token.

const VIEWER_TOKEN_KEY = 'logbook.viewer_token';
const CSRF_HEADER = 'X-Logbook-UI';

let viewerToken = null;

/** An error answer of the API, with its status and envelope. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function storage() {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

/** Takes a viewer token out of the page's URL (so that it is never bookmarked or shared), and keeps it. */
export function adoptViewerToken() {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get('viewer_token');
  if (fromUrl) {
    url.searchParams.delete('viewer_token');
    window.history.replaceState(null, '', url.pathname + url.search + url.hash);
    storage()?.setItem(VIEWER_TOKEN_KEY, fromUrl);
    viewerToken = fromUrl;
    return;
  }
  viewerToken = storage()?.getItem(VIEWER_TOKEN_KEY) || null;
}

/** Forgets the viewer token of this tab. */
export function forgetViewerToken() {
  storage()?.removeItem(VIEWER_TOKEN_KEY);
  viewerToken = null;
}

function headers(extra = {}) {
  const all = { Accept: 'application/json', [CSRF_HEADER]: '1', ...extra };
  if (viewerToken) all.Authorization = `Bearer ${viewerToken}`;
  return all;
}

/** A query string from an object, leaving out empty values. */
export function queryString(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== '') search.set(name, value);
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

async function call(method, path, { params, body, text } = {}) {
  const init = { method, headers: headers(body ? { 'Content-Type': 'application/json' } : {}), credentials: 'same-origin', cache: 'no-store' };
  if (body) init.body = JSON.stringify(body);
  if (text) init.headers.Accept = 'text/plain';
  const response = await fetch(path + queryString(params), init);
  if (!response.ok) {
    let code = 'http_error';
    let message = `${response.status} ${response.statusText}`;
    try {
      const envelope = await response.json();
      code = envelope.error?.code || code;
      message = envelope.error?.message || message;
    } catch {
      // Not an error envelope; keep the status line.
    }
    throw new ApiError(response.status, code, message);
  }
  if (response.status === 204) return null;
  return text ? response.text() : response.json();
}

const workspacePath = (workspace) => `/v1/workspaces/${encodeURIComponent(workspace)}`;

export const api = {
  session: () => call('GET', '/ui/session'),
  signIn: (token) => call('POST', '/ui/session', { body: { token } }),
  signOut: () => call('DELETE', '/ui/session'),
  catalog: (workspace) => call('GET', `${workspacePath(workspace)}/catalog`),
  feed: (workspace, params) => call('GET', `${workspacePath(workspace)}/events`, { params }),
  timeline: (workspace, record, params) =>
    call('GET', `${workspacePath(workspace)}/records/${encodeURIComponent(record.type)}/${encodeURIComponent(record.id)}/events`, { params }),
  event: (workspace, id) => call('GET', `${workspacePath(workspace)}/events/${encodeURIComponent(id)}`),
  proof: (workspace, id, size) => call('GET', `${workspacePath(workspace)}/events/${encodeURIComponent(id)}/proof`, { params: { size } }),
  checkpoint: (workspace) => call('GET', `${workspacePath(workspace)}/checkpoint`, { text: true }),
  logKeys: () => call('GET', '/v1/log-keys'),
  stats: (workspace, params) => call('GET', `${workspacePath(workspace)}/stats`, { params }),
  exportUrl: (workspace, params, format) => `${workspacePath(workspace)}/export${queryString({ ...params, format })}`,
};

/** Whether requests carry a viewer token (the embedded mode). */
export function embedded() {
  return viewerToken !== null;
}

/**
 * Downloads an export. With the session cookie a plain link streams it; with a
 * viewer token the page fetches it (a link cannot carry the token) and saves it.
 */
export async function downloadExport(url, filename) {
  const response = await fetch(url, { headers: headers({ Accept: '*/*' }), credentials: 'same-origin', cache: 'no-store' });
  if (!response.ok) throw new ApiError(response.status, 'export_failed', `the export failed: ${response.status}`);
  const blob = await response.blob();
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}
