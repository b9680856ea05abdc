import { useEffect, useState } from "preact/hooks";

/** The console's pages, addressed by the URL's fragment so that reloads and links keep the place. */
export type Route =
  | { readonly page: "keys" }
  | { readonly page: "key"; readonly keyId: string }
  | { readonly page: "create" }
  | { readonly page: "try"; readonly keyId?: string }
  | { readonly page: "audit"; readonly keyId?: string }
  | { readonly page: "health" }
  | { readonly page: "keystores" };

/** A malformed escape (`#/keys/%E0`) is kept as typed rather than throwing, which would leave a blank page. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

export function parseRoute(hash: string): Route {
  const [page = "", arg] = hash.replace(/^#\/?/, "").split("/").map(decodeSegment);
  switch (page) {
    case "keys":
      return arg ? { page: "key", keyId: arg } : { page: "keys" };
    case "create":
      return { page: "create" };
    case "try":
      return arg ? { page: "try", keyId: arg } : { page: "try" };
    case "audit":
      return arg ? { page: "audit", keyId: arg } : { page: "audit" };
    case "health":
      return { page: "health" };
    case "keystores":
      return { page: "keystores" };
    default:
      return { page: "keys" };
  }
}

export function href(route: Route): string {
  switch (route.page) {
    case "key":
      return `#/keys/${encodeURIComponent(route.keyId)}`;
    case "try":
    case "audit":
      return route.keyId ? `#/${route.page}/${encodeURIComponent(route.keyId)}` : `#/${route.page}`;
    default:
      return `#/${route.page}`;
  }
}

export function navigate(route: Route): void {
  window.location.hash = href(route);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const changed = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  return route;
}
