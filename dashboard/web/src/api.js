// REST calls to rockd, with the bearer token when rockd requires one. The token is asked for
// once, on the first 401, and kept in sessionStorage: it lasts for this tab, never on disk.

const TOKEN_KEY = "rockd.token";
let asking = null;  // the open token prompt, shared by every request that got a 401

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

function askToken(message) {
  if (asking) return asking;
  const dialog = document.getElementById("token-dialog");
  const input = document.getElementById("token-input");
  document.getElementById("token-error").textContent = message;
  input.value = "";
  asking = new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      sessionStorage.setItem(TOKEN_KEY, input.value);
      asking = null;
      resolve();
    }, { once: true });
  });
  dialog.showModal();
  return asking;
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// request(method, path, body?) → parsed JSON (or text for non-JSON answers); throws ApiError.
export async function request(method, path, body) {
  for (;;) {
    const headers = {};
    if (token()) headers.Authorization = "Bearer " + token();
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method, headers, cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401) {
      await askToken(token() ? "That token was refused; try again." : "");
      continue;
    }
    const type = response.headers.get("Content-Type") || "";
    const payload = type.startsWith("application/json") ? await response.json() : await response.text();
    if (!response.ok) {
      const error = payload && payload.error ? payload.error : { code: "http_" + response.status, message: response.statusText };
      throw new ApiError(response.status, error.code, error.message);
    }
    return payload;
  }
}

export const get = (path) => request("GET", path);

// The /ws/events URL; browsers cannot set headers on a WebSocket, so the token goes in the
// query (rockd accepts ?access_token= on /ws/* only).
export function eventsUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = token() ? "?access_token=" + encodeURIComponent(token()) : "";
  return scheme + "//" + location.host + "/ws/events" + query;
}
