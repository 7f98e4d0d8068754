/** What names an endpoint in metrics and logs: its host, without the path or query that may hold an API key. */
export function endpointLabel(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'invalid-url';
  }
}
