// The ratings backend: keeps each movie's average and publishes every new
// rating to Herald on channel movie:<id> as a `rating-updated` event. This is
// the whole realtime part: no connection set, no broadcast loop.
import { randomUUID } from "node:crypto";
import { publish, startApp } from "../common/app.mjs";

const movies = new Map();   // movieId -> {sum, count}

const summary = (movieId) => {
  const { sum, count } = movies.get(movieId) || { sum: 0, count: 0 };
  return { movieId, count, average: count ? Math.round((sum / count) * 100) / 100 : null };
};

startApp({
  name: "ratings",
  page: new URL("index.html", import.meta.url),
  routes: [
    ["GET", /^\/api\/movies\/([\w-]+)$/, ([, movieId]) => [200, summary(movieId)]],
    ["POST", /^\/api\/ratings$/, async (_, { movieId, rating }) => {
      if (!/^[\w-]{1,64}$/.test(movieId || "") || ![1, 2, 3, 4, 5].includes(rating))
        return [400, { success: false, error: "movieId and a rating of 1-5 needed" }];
      const movie = movies.get(movieId) || { sum: 0, count: 0 };
      movie.sum += rating;
      movie.count += 1;
      movies.set(movieId, movie);
      const data = { ...summary(movieId), rating, action: "create" };
      await publish("movie:" + movieId, "rating-updated", data, "rating-" + randomUUID());
      return [200, { success: true, ...data }];
    }],
  ],
});
