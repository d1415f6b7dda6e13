// The one fetch helper: POSTs a named operation to /graphql with the admin's bearer
// token and turns a GraphQL error's extensions.code into a message a person can act on.

export const ENDPOINT = "/graphql";

/** The token was refused (missing, malformed, expired, wrongly signed): sign in again. */
export class AuthError extends Error {}

/** Any other failure, with a message written for the person at the page. */
export class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

const MESSAGES = {
  FORBIDDEN: () => "This token may not read this store: ask for a token whose scope includes it.",
  BAD_USER_INPUT: (e) => `The server refused the request: ${e.message}`,
  RATE_LIMITED: (e) =>
    `Too many requests: try again in ${e.extensions?.retryAfter ?? "a few"} seconds.`,
  INTERNAL_SERVER_ERROR: () => "The server failed to answer this panel; try again later.",
};

function problem(error) {
  const code = error.extensions?.code ?? "INTERNAL_SERVER_ERROR";
  if (code === "UNAUTHENTICATED") return new AuthError(error.message);
  const message = (MESSAGES[code] ?? ((e) => e.message))(error);
  return new ApiError(message, code);
}

/** The operation's data; throws AuthError or ApiError. */
export async function graphql(token, query, variables = {}) {
  let response;
  try {
    response = await fetch(ENDPOINT, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        // application/json: request errors come back as 200 with errors, like the rest.
        Accept: "application/json",
        Authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError("Cannot reach the server: check the connection and try again.", "NETWORK");
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`The server answered HTTP ${response.status} without JSON.`, "HTTP");
  }
  if (body.errors?.length) throw problem(body.errors[0]);
  if (!response.ok || !body.data) {
    throw new ApiError(`The server answered HTTP ${response.status}.`, "HTTP");
  }
  return body.data;
}
