/** A JSON text's first syntax error, with its line and column (1-based), or null when it parses. */
export interface JsonProblem {
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

export function jsonProblem(text: string): JsonProblem | null {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return { line: 1, column: 1, message: 'A policy is a JSON object: { "Version": …, "Statement": […] }.' };
    }
    return null;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const lineColumn = /line (\d+) column (\d+)/.exec(message);
    if (lineColumn) return { line: Number(lineColumn[1]), column: Number(lineColumn[2]), message: cleaned(message) };
    const position = /position (\d+)/.exec(message);
    const offset = position ? Number(position[1]) : text.length;
    const before = text.slice(0, offset).split("\n");
    return { line: before.length, column: (before.at(-1)?.length ?? 0) + 1, message: cleaned(message) };
  }
}

function cleaned(message: string): string {
  return message
    .replace(/^JSON\.parse: /, "")
    .replace(/ at line \d+ column \d+ of the JSON data$/, "")
    .replace(/ in JSON at position \d+.*$/, "")
    .replace(/ \(line \d+ column \d+\)$/, "");
}
