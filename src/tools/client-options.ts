// What porthole-capture and porthole-console share about reaching a server: the password
// and CA files, and answering the server's request for credentials from them.

import Gio from "gi://Gio";
import GLib from "gi://GLib";

import type { VncConnection } from "../platform/connection.js";

/** GLib.Error is no JS Error in gjs: its String() starts with the domain ("GLib.FileError: "). */
export function errorText(e: unknown): string {
  return e instanceof GLib.Error || e instanceof Error ? e.message : String(e);
}

/** The password in `path`, without the line end a text editor leaves. */
export function readPassword(path: string): string {
  try {
    const [, contents] = Gio.File.new_for_path(path).load_contents(null);
    return new TextDecoder().decode(contents).replace(/\r?\n$/, "");
  } catch (e) {
    throw new Error(`cannot read the password file: ${errorText(e)}`);
  }
}

/** Fails early, in words, on a CA file GnuTLS would otherwise read as "no CA at all". */
export function checkCaFile(path: string): void {
  let certificates: Gio.TlsCertificate[];
  try {
    certificates = Gio.TlsCertificate.list_new_from_file(path);
  } catch (e) {
    throw new Error(`cannot read the CA file: ${errorText(e)}`);
  }
  if (certificates.length === 0) throw new Error(`the CA file ${path} holds no PEM certificate`);
}

/** Answers `credentialsRequired` from the command line, or fails saying which option is missing. */
export function answerCredentials(
  connection: VncConnection,
  needed: { username: boolean; password: boolean },
  given: { username: string | null; password: string | null },
  fail: (message: string) => void,
): void {
  if (needed.username && given.username === null) fail("the server asks for a user name: give one with --username");
  else if (needed.password && given.password === null)
    fail("the server asks for a password: give one with --password-file");
  else
    connection.setCredentials({
      ...(given.username !== null ? { username: given.username } : {}),
      ...(given.password !== null ? { password: given.password } : {}),
    });
}
