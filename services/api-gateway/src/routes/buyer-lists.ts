import { Router } from 'express';
import { api } from '@reelboard/api';
import {
  addFavourite,
  createSavedSearch,
  deleteSavedSearch,
  favouriteListings,
  findListing,
  type Knex,
  listSavedSearches,
  removeFavourite,
} from '@reelboard/db';
import type { ObjectStorage } from '@reelboard/storage';
import { HttpError } from '../infra/http-error.js';
import type { Bind } from './bind.js';
import { presentListing } from './listings.js';

export interface BuyerListRoutesDeps {
  bind: Bind;
  db: Knex;
  storage: ObjectStorage;
}

const noStore = { 'cache-control': 'no-store' };

/** The signed-in wallet's favourites and saved searches (the notifier sends a saved search's alerts). */
export function buyerListRoutes({ bind, db, storage }: BuyerListRoutesDeps): Router {
  const router = Router();

  bind(router, api.listFavourites).to(async ({ caller }) => {
    const views = await favouriteListings(db, caller.address);
    return { status: 200, headers: noStore, body: { items: await Promise.all(views.map((view) => presentListing(storage, view))) } };
  });

  bind(router, api.addFavourite).to(async ({ params, caller }) => {
    if (!(await findListing(db, params.id))) throw new HttpError(404, 'listing_not_found', `no public listing ${params.id}`);
    await addFavourite(db, caller.address, params.id);
    return { status: 204, body: undefined };
  });

  bind(router, api.removeFavourite).to(async ({ params, caller }) => {
    if (!(await removeFavourite(db, caller.address, params.id)))
      throw new HttpError(404, 'favourite_not_found', `listing ${params.id} is not one of your favourites`);
    return { status: 204, body: undefined };
  });

  bind(router, api.listSavedSearches).to(async ({ caller }) => ({
    status: 200,
    headers: noStore,
    body: { items: (await listSavedSearches(db, caller.address)).map(({ id, name, query, createdAt }) => ({ id, name, query, createdAt })) },
  }));

  bind(router, api.createSavedSearch).to(async ({ body, caller }) => {
    const saved = await createSavedSearch(db, { walletAddress: caller.address, name: body.name, query: body.query.query, filters: body.query.filters });
    return { status: 201, body: { id: saved.id, name: saved.name, query: saved.query, createdAt: saved.createdAt } };
  });

  bind(router, api.deleteSavedSearch).to(async ({ params, caller }) => {
    if (!(await deleteSavedSearch(db, caller.address, params.id))) throw new HttpError(404, 'saved_search_not_found', `you have no saved search ${params.id}`);
    return { status: 204, body: undefined };
  });

  return router;
}
