/**
 * Why a listing is reported: a fixed list, so moderators can sort and count, each with the words
 * the web client shows. `other` needs the reporter's own words.
 */
export const reportReasonLabels = {
  scam: 'Scam or fraud',
  prohibited: 'Prohibited item or service',
  offensive: 'Offensive or adult content',
  misleading: 'Misleading: the video, title or price do not match',
  spam: 'Spam or repeated listing',
  wrong_contact: 'The contact does not work or is not the seller',
  other: 'Something else (say what)',
} as const;
export type ReportReason = keyof typeof reportReasonLabels;
export const REPORT_REASONS = Object.keys(reportReasonLabels) as [ReportReason, ...ReportReason[]];
/** The longest text a report may carry. */
export const REPORT_DETAILS_MAX = 1000;
