// The admin's token lives in sessionStorage only: it arrives pasted, or in the URL's
// fragment (/admin#token=...), which a browser never sends to a server; the fragment
// is removed from the address bar at once so it is not bookmarked or shared.

const KEY = "storefront-admin-token";

/** Moves a #token=... fragment into sessionStorage; answers the stored token or null. */
export function takeToken() {
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  const fromLink = fragment.get("token");
  if (fromLink !== null) {
    history.replaceState(null, "", window.location.pathname + window.location.search);
    if (fromLink.trim()) storeToken(fromLink);
  }
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function storeToken(token) {
  try {
    sessionStorage.setItem(KEY, token.trim());
  } catch {
    // Storage blocked: the token lives as long as the page (see main.js).
  }
}

export function clearToken() {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // nothing stored
  }
}

/** The tenant scope a token claims (read for the picker only; the server decides). */
export function claimedTenants(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(part));
    if (Array.isArray(claims.tenants)) return claims.tenants.map(String);
    if (claims.tenant_id !== undefined && claims.tenant_id !== null) return [String(claims.tenant_id)];
    return ["default"];
  } catch {
    return ["default"];
  }
}
