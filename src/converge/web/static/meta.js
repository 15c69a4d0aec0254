// What the API offers, read from its OpenAPI document: collections, kinds' schemas, actions.
let cached = null;

export async function meta() {
  if (cached) return cached;
  const doc = await (await fetch("/openapi.json")).json();
  const collections = [];
  const actions = {};
  for (const [path, ops] of Object.entries(doc.paths)) {
    let m = /^\/api\/v1\/(.+)\/\{name\}$/.exec(path);
    if (m && ops.patch) {
      const create = doc.paths[`/api/v1/${m[1]}`].post.requestBody.content["application/json"].schema.$ref;
      collections.push({ name: m[1], schema: create.split("/").pop() });
      continue;
    }
    m = /^\/api\/v1\/(.+)\/\{name\}\/([a-z_]+)$/.exec(path);
    if (m && ops.post) (actions[m[1]] ||= []).push({ verb: m[2], summary: ops.post.summary });
  }
  cached = { doc, collections, actions, schemas: doc.components.schemas };
  return cached;
}

// Follows a $ref inside the document's components.
export function resolve(schemas, node) {
  while (node && node.$ref) node = schemas[node.$ref.split("/").pop()];
  return node || {};
}

export function kindOf(collection) {
  // "shares/smb" -> "smb", "datasets" -> "dataset", "snapshot_policies" -> "snapshot_policy"
  const last = collection.split("/").pop();
  if (collection.startsWith("shares/") || collection === "system") return last;
  return last.endsWith("ies") ? last.slice(0, -3) + "y" : last.replace(/s$/, "");
}
