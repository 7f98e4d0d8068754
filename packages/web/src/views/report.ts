import { REPORT_DETAILS_MAX, type ReportReason, reportReasonLabels } from '@reelboard/contracts/reports';
import { ApiError, requestJson } from '../api.js';
import { h, mount } from '../dom.js';
import { currentSession } from '../session.js';

/** What the visitor is told for each refusal of a report, in their words. */
function refusalWords(error: unknown): string {
  if (!(error instanceof ApiError)) return `The report was not sent: ${(error as Error).message}`;
  if (error.code === 'report_exists') return 'You already reported this listing; a moderator will review it.';
  if (error.code === 'rate_limited') return 'Too many reports from here for now: try again in an hour.';
  if (error.code === 'listing_not_found') return 'This listing is no longer public: nothing to report.';
  if (error.status === 401) return 'Your session ended: sign in again, or reload to report without signing in.';
  return `The report was not sent: ${error.message}`;
}

/**
 * "Report this listing" under a listing: a reason from the fixed list and optional words (required for
 * "something else"), sent signed in when there is a session, anonymously otherwise. Folded until opened,
 * so it never competes with the listing itself.
 */
export function reportControl(listingId: string): HTMLElement {
  const status = h('p', { class: 'notice', id: 'report-status', role: 'status', tabindex: -1 });
  const details = h('textarea', { id: 'report-details', name: 'details', rows: 3, maxlength: REPORT_DETAILS_MAX, 'aria-describedby': 'report-details-error' });
  const detailsError = h('p', { class: 'field-error', id: 'report-details-error' });
  const reasons = (Object.entries(reportReasonLabels) as [ReportReason, string][]).map(([reason, label]) =>
    h('label', { class: 'report-reason' }, h('input', { type: 'radio', name: 'report-reason', value: reason }), ` ${label}`),
  );
  const send = h('button', { type: 'submit', class: 'secondary', id: 'report-send' }, 'Send report');
  const form = h(
    'form',
    {
      class: 'report-form',
      onsubmit: async (event: Event) => {
        event.preventDefault();
        const chosen = form.querySelector<HTMLInputElement>('input[name="report-reason"]:checked')?.value as ReportReason | undefined;
        detailsError.textContent = '';
        details.removeAttribute('aria-invalid');
        if (!chosen) {
          status.textContent = 'Choose what is wrong with the listing.';
          form.querySelector<HTMLInputElement>('input[name="report-reason"]')?.focus();
          return;
        }
        send.disabled = true;
        status.textContent = 'Sending…';
        try {
          const text = details.value.trim();
          await requestJson(`/v1/listings/${encodeURIComponent(listingId)}/reports`, {
            method: 'POST',
            body: { reason: chosen, ...(text ? { details: text } : {}) },
            ...(currentSession() ? { token: currentSession()?.token } : {}),
          });
          mount(form, status);
          status.textContent = 'Thank you: a moderator will review this listing.';
          status.focus();
        } catch (error) {
          send.disabled = false;
          if (error instanceof ApiError && error.code === 'invalid_body' && /details/.test(error.message)) {
            status.textContent = '';
            detailsError.textContent = error.message;
            details.setAttribute('aria-invalid', 'true');
            details.focus();
            return;
          }
          status.textContent = refusalWords(error);
          status.focus();
        }
      },
    },
    h('fieldset', {}, h('legend', {}, 'What is wrong?'), ...reasons),
    h('div', { class: 'field' }, h('label', { for: 'report-details' }, 'Details (required for "something else")'), details, detailsError),
    send,
    status,
  );
  return h('details', { class: 'report', id: 'report' }, h('summary', {}, 'Report this listing'), form);
}
