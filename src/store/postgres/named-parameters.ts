/** A statement written once for both stores, with SQLite's :name parameters, as node-postgres takes it. */
export interface NamedStatement {
  /** The SQL with $1, $2, ... in place of the names (one number a name, however often it is used). */
  readonly text: string;
  /** The values for `text`, in its numbering. */
  values(params: Readonly<Record<string, unknown>>): unknown[];
}

export function named(sql: string): NamedStatement {
  const names: string[] = [];
  // `::type` is PostgreSQL's cast, not a parameter.
  const text = sql.replace(/(?<![:\w]):([a-z_]\w*)/gi, (_, name: string) => {
    const index = names.includes(name) ? names.indexOf(name) : names.push(name) - 1;
    return `$${index + 1}`;
  });
  return {
    text,
    values: (params) =>
      names.map((name) => {
        if (!(name in params)) throw new Error(`no value for the parameter :${name}`);
        return params[name];
      }),
  };
}
