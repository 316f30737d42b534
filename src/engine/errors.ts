// The one-line text of any error the engine reports for a task or a host.

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
