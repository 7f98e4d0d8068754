import { randomBytes } from 'node:crypto';

/** One part of a hand-built multipart body: a text field or a file, with raw bytes allowed anywhere. */
export type Part = { name: string | Buffer; value: string | Buffer } | { name: string | Buffer; filename: string | Buffer; content: Buffer; type?: string };

/**
 * Builds a multipart/form-data body byte by byte, so tests can send what a browser never would:
 * non-UTF-8 bytes, NUL in filenames, missing terminators.
 */
export function multipartBody(
  parts: Part[],
  { boundary = `----reelboard${randomBytes(8).toString('hex')}`, terminate = true } = {},
): { body: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  const text = (value: string | Buffer) => (typeof value === 'string' ? Buffer.from(value, 'utf8') : value);
  for (const part of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="`), text(part.name), Buffer.from('"'));
    if ('filename' in part) {
      chunks.push(
        Buffer.from('; filename="'),
        text(part.filename),
        Buffer.from(`"\r\nContent-Type: ${part.type ?? 'application/octet-stream'}\r\n\r\n`),
        part.content,
      );
    } else {
      chunks.push(Buffer.from('\r\n\r\n'), text(part.value));
    }
    chunks.push(Buffer.from('\r\n'));
  }
  if (terminate) chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** The text fields of a valid listing form, as parts. */
export function validFields(overrides: Record<string, string | Buffer> = {}): Part[] {
  const fields: Record<string, string | Buffer> = { title: 'Bad input neighbour', hashtags: '#ok', latitude: '10', longitude: '20', ...overrides };
  return Object.entries(fields).map(([name, value]) => ({ name, value }));
}
