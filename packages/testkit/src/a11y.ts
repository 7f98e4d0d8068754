import axe from 'axe-core';
import type { Page } from 'playwright-core';

/** One axe-core finding, cut to what a failing test needs to print. */
export interface A11yViolation {
  id: string;
  impact: string | null;
  help: string;
  /** CSS selectors of (at most five of) the offending elements. */
  targets: string[];
}

/** The phone viewport every browser test checks besides the desktop one (an iPhone 12-15 in CSS pixels). */
export const PHONE_VIEWPORT = { width: 390, height: 844 } as const;
export const DESKTOP_VIEWPORT = { width: 1100, height: 900 } as const;

/**
 * Runs axe-core in the page (injected from the installed package, so no network) and returns the
 * violations of `serious` or `critical` impact: the ones a test fails on. Lesser ones (best
 * practices, moderate contrast hints) are left to review, not to CI.
 * `include` narrows the check to one part of the page (a CSS selector), `exclude` skips parts.
 */
export async function seriousA11yViolations(page: Page, options: { include?: string; exclude?: string[] } = {}): Promise<A11yViolation[]> {
  const present = await page.evaluate(() => typeof (globalThis as { axe?: unknown }).axe === 'object');
  // Evaluated through the DevTools protocol, not a <script> tag: the app's Content-Security-Policy forbids inline scripts.
  if (!present) await page.evaluate(axe.source);
  return page.evaluate(
    async ({ include, exclude }) => {
      type Result = { violations: { id: string; impact?: string | null; help: string; nodes: { target: unknown[] }[] }[] };
      const runner = (globalThis as unknown as { axe: { run: (context: unknown, options: unknown) => Promise<Result> } }).axe;
      const context =
        include || exclude.length > 0 ? { ...(include ? { include: [include] } : {}), exclude: exclude.map((selector) => [selector]) } : undefined;
      const result = await runner.run(context ?? (globalThis as unknown as { document: unknown }).document, { resultTypes: ['violations'] });
      return result.violations
        .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
        .map((violation) => ({
          id: violation.id,
          impact: violation.impact ?? null,
          help: violation.help,
          targets: violation.nodes.slice(0, 5).map((node) => node.target.map(String).join(' ')),
        }));
    },
    { include: options.include, exclude: options.exclude ?? [] },
  );
}

/**
 * How many CSS pixels the page is wider than its viewport (0 when it never scrolls sideways). Measured
 * against the viewport the test set, not `innerWidth`: with a phone's emulation Chromium zooms out to
 * fit a too-wide page, and `innerWidth` grows with it, so `scrollWidth <= innerWidth` always holds.
 */
export async function sidewaysOverflow(page: Page): Promise<number> {
  const width = page.viewportSize()?.width;
  const measured = await page.evaluate(() => {
    const scope = globalThis as unknown as { document: { documentElement: { scrollWidth: number } }; innerWidth: number };
    return { scrollWidth: scope.document.documentElement.scrollWidth, innerWidth: scope.innerWidth };
  });
  return Math.max(0, measured.scrollWidth - Math.min(measured.innerWidth, width ?? measured.innerWidth));
}

/**
 * The two checks every view gets, in one call, throwing one readable error: no serious or critical
 * axe violation, and (on any viewport) no sideways scroll. `label` names the view in the message.
 */
export async function assertAccessible(page: Page, label: string, options: { include?: string; exclude?: string[] } = {}): Promise<void> {
  const [violations, overflow] = await Promise.all([seriousA11yViolations(page, options), sidewaysOverflow(page)]);
  const problems = violations.map((v) => `${v.impact} ${v.id}: ${v.help} (${v.targets.join(', ')})`);
  if (overflow > 0) problems.push(`the page scrolls sideways by ${overflow} px at ${page.viewportSize()?.width ?? '?'} px wide`);
  if (problems.length > 0) throw new Error(`${label}: ${problems.length} accessibility problem(s):\n- ${problems.join('\n- ')}`);
}
