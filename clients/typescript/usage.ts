// Compiled with `tsc --noEmit` by the contract check: the generated types are usable the way
// an app uses them, so a change that breaks a client's build breaks ours first.
import type { components, paths } from "./runcrew-api";

type Schemas = components["schemas"];

/** The body `POST /v1/courses` takes, and what it answers. */
type NewCourse = paths["/v1/courses"]["post"]["requestBody"]["content"]["application/json"];
type CreatedCourse =
  paths["/v1/courses"]["post"]["responses"]["201"]["content"]["application/json"];

export const hanRiver: NewCourse = {
  name: "Han river",
  route: {
    type: "LineString",
    coordinates: [
      [126.93, 37.52],
      [126.95, 37.53],
    ],
  },
};

export function distanceLabel(course: CreatedCourse): string {
  return `${(course.distance_m / 1000).toFixed(1)} km`;
}

/** Every error of ours reads the same way. */
export function errorCode(body: Schemas["Error"]): string {
  return body.error.field ? `${body.error.code} (${body.error.field})` : body.error.code;
}

/** A page of the leaderboard, fastest first. */
export function podium(page: Schemas["LeaderboardPage"]): string[] {
  return page.items.slice(0, 3).map((row) => `${row.rank}. ${row.duration_s} s`);
}

/** The inbox badge: "99+" past the count the server stops at. */
export function unreadBadge(page: Schemas["NotificationPage"]): string {
  return page.unread_more ? `${page.unread_count}+` : `${page.unread_count}`;
}

/** `POST /v1/notifications/read` takes some ids or everything, never both. */
type MarkRead =
  paths["/v1/notifications/read"]["post"]["requestBody"]["content"]["application/json"];
export const markAll: MarkRead = { all: true };

/** Quiet nights in Seoul, and no pushes for likes. */
export const quietNights: Schemas["NotificationSettingsChange"] = {
  types: { course_liked: false },
  quiet_hours: { start: "23:00", end: "07:00", time_zone: "Asia/Seoul" },
};

/** The Strava line of a settings screen: the status is one of two shapes, told by `connected`. */
export function stravaLine(status: Schemas["StravaStatus"]): string {
  if (!status.connected) return "Connect Strava";
  if (status.problem?.code === "reconnect_needed") return "Reconnect Strava";
  return status.import_in_progress
    ? "Importing from Strava…"
    : `${status.runs_imported} runs from Strava`;
}
