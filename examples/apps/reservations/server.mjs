// The reservations backend: creates, updates, deletes and checks in
// reservations, and publishes each change to Herald on channel
// business:<id> with the event types the dashboard dispatches on. This
// replaces the SSE route, its connection map and its heartbeat timer: what
// is left of emitReservationEvent() is one HTTP POST (publish()).
import { publish, startApp } from "../common/app.mjs";

const reservations = new Map();   // reservationId -> reservation
let next = 1;

// The event types (the team's realtime-config `events`).
const EVENTS = {
  QR_SCANNED: "qr-scanned",
  RESERVATION_CREATED: "reservation-created",
  RESERVATION_UPDATED: "reservation-updated",
  RESERVATION_DELETED: "reservation-deleted",
};

const emit = (r, type, data) => publish("business:" + r.businessId, type, data);

const refuse = (status, message) => { throw Object.assign(new Error(message), { status }); };
const find = (id) => reservations.get(id) || refuse(404, "no reservation " + id);

startApp({
  name: "reservations",
  page: new URL("index.html", import.meta.url),
  routes: [
    ["GET", /^\/api\/reservas$/, (_, __, url) => {
      const businessId = Number(url.searchParams.get("businessId"));
      return [200, { reservations: [...reservations.values()].filter((r) => r.businessId === businessId) }];
    }],
    ["POST", /^\/api\/reservas$/, async (_, body) => {
      const businessId = Number(body.businessId);
      if (!Number.isInteger(businessId) || businessId < 1 || !body.customerName)
        refuse(400, "businessId and customerName needed");
      const r = {
        reservationId: "r" + next++, businessId, customerName: String(body.customerName),
        guestCount: Number(body.guestCount) || 2, reservedAt: body.reservedAt || new Date().toISOString(),
        status: "PENDING", scanCount: 0,
      };
      reservations.set(r.reservationId, r);
      await emit(r, EVENTS.RESERVATION_CREATED, r);
      return [201, r];
    }],
    ["POST", /^\/api\/reservas\/qr-scan$/, async (_, { reservationId, increment = 1 }) => {
      const r = find(reservationId);
      const isFirstScan = r.scanCount === 0;
      r.scanCount += increment;
      r.status = "CHECKED_IN";
      await emit(r, EVENTS.QR_SCANNED, {
        reservationId, customerName: r.customerName, scanCount: r.scanCount,
        maxGuests: r.guestCount, increment, isFirstScan, newStatus: r.status,
      });
      return [200, r];
    }],
    ["PUT", /^\/api\/reservas\/(\w+)$/, async ([, id], body) => {
      const r = find(id);
      const updates = {};
      for (const field of ["status", "guestCount", "customerName", "reservedAt"])
        if (field in body) updates[field] = body[field];
      Object.assign(r, updates);
      await emit(r, EVENTS.RESERVATION_UPDATED, { reservationId: id, updates });
      return [200, r];
    }],
    ["DELETE", /^\/api\/reservas\/(\w+)$/, async ([, id]) => {
      const r = find(id);
      reservations.delete(id);
      await emit(r, EVENTS.RESERVATION_DELETED, { reservationId: id, customerName: r.customerName });
      return [200, { deleted: id }];
    }],
  ],
});
