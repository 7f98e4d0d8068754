import type { Knex } from 'knex';

/**
 * Adaptive streaming (issue 24): a listing's DASH manifest and its rendition ladder, and its
 * storyboard (a WebVTT index of sprite-sheet thumbnails for scrubbing). All null for listings saved
 * before the ladder existed: those keep playing their single progressive WebM (`video_key`), which
 * stays the fallback for players without Media Source Extensions.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('listings', (t) => {
    // The object key of the DASH manifest (MPD); its segments live under the same prefix.
    t.text('manifest_key');
    // The rungs the manifest lists: [{ width, height, bitrateKbps }], lowest first.
    t.jsonb('renditions');
    // The object key of the storyboard's WebVTT index; its sprite sheets live beside it.
    t.text('storyboard_key');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('listings', (t) => {
    t.dropColumn('manifest_key');
    t.dropColumn('renditions');
    t.dropColumn('storyboard_key');
  });
}
