// Asks for what a server’s security type needs: a password (VNC authentication), or a user
// name and password (VeNCrypt Plain). Asked again after a failed attempt, it shows the
// server’s reason so the user knows why.

import Adw from "gi://Adw";
import GObject from "gi://GObject";
import Gtk from "gi://Gtk?version=4.0";

import { _ } from "../platform/i18n.js";
import { closeWithParent } from "./connect-dialog.js";
import { fill } from "./options.js";

export interface CredentialsRequest {
  /** The server as the user knows it, e.g. "vnc://host:5901". */
  readonly server: string;
  /** Ask for a user name as well as the password. */
  readonly username: boolean;
  /** The user name to start with, e.g. the one in vnc://alice@host. */
  readonly initialUsername?: string | null;
  /** Why the previous attempt failed, as the server said it; "" when it gave no reason. */
  readonly failure?: string | null;
}

/** What the user entered; `username` only when it was asked for. */
export interface EnteredCredentials {
  readonly username?: string;
  readonly password: string;
}

export class PortholeCredentialsDialog extends Adw.MessageDialog {
  static {
    GObject.registerClass({ GTypeName: "PortholeCredentialsDialog" }, this);
  }

  readonly #username: Gtk.Entry | null;
  readonly #password: Gtk.PasswordEntry;
  readonly #result: Promise<EnteredCredentials | null>;
  #settle: ((value: EnteredCredentials | null) => void) | null = null;

  constructor(parent: Gtk.Window, request: CredentialsRequest) {
    super({
      transient_for: parent,
      modal: true,
      heading: request.username ? _("Authentication Required") : _("Password Required"),
      body: fill(
        // Translators: {server} is an address such as vnc://host:5901; keep the braces.
        request.username ? _("Enter your user name and password for {server}.") : _("Enter the password for {server}."),
        { server: request.server },
      ),
    });
    closeWithParent(this, parent);
    this.add_response("cancel", _("_Cancel"));
    this.add_response("connect", _("C_onnect"));
    this.set_response_appearance("connect", Adw.ResponseAppearance.SUGGESTED);
    this.set_default_response("connect");
    this.set_close_response("cancel");

    const box = new Gtk.Box({ orientation: Gtk.Orientation.VERTICAL, spacing: 12 });
    if (request.failure !== undefined && request.failure !== null) {
      box.append(
        new Gtk.Label({
          name: "failure",
          label:
            request.failure === ""
              ? _("The password was not accepted.")
              : fill(_("The password was not accepted: {reason}"), { reason: request.failure }),
          wrap: true,
          xalign: 0,
          css_classes: ["error"],
        }),
      );
    }

    const grid = new Gtk.Grid({ row_spacing: 6, column_spacing: 12 });
    this.#password = new Gtk.PasswordEntry({ name: "password", show_peek_icon: true, hexpand: true });
    if (request.username) {
      const username = new Gtk.Entry({
        name: "username",
        text: request.initialUsername ?? "",
        hexpand: true,
        input_hints: Gtk.InputHints.NO_SPELLCHECK,
      });
      username.connect("changed", () => {
        this.#update();
      });
      // Enter goes on to the password, as in a login form.
      username.connect("activate", () => this.#password.grab_focus());
      grid.attach(this.#label(_("_User Name"), username), 0, 0, 1, 1);
      grid.attach(username, 1, 0, 1, 1);
      this.#username = username;
    } else {
      this.#username = null;
    }
    grid.attach(this.#label(_("_Password"), this.#password), 0, 1, 1, 1);
    grid.attach(this.#password, 1, 1, 1, 1);
    box.append(grid);
    this.set_extra_child(box);

    this.#password.connect("changed", () => {
      this.#update();
    });
    this.#password.connect("activate", () => {
      if (this.get_response_enabled("connect")) this.response("connect");
    });
    this.#update();
    // A known user name (from the URI or the last attempt) leaves only the password to type.
    this.set_focus(this.#username !== null && this.#username.get_text() === "" ? this.#username : this.#password);

    this.#result = new Promise((resolve) => {
      this.#settle = resolve;
    });
    this.connect("response", (_dialog, response: string) => {
      this.#respond(response);
    });
  }

  /** Shows the dialog; resolves with what was entered, or null when cancelled or closed. */
  ask(): Promise<EnteredCredentials | null> {
    this.present();
    return this.#result;
  }

  /** What the entries hold now. */
  get credentials(): EnteredCredentials {
    const password = this.#password.get_text();
    return this.#username === null ? { password } : { username: this.#username.get_text(), password };
  }

  #label(text: string, widget: Gtk.Widget): Gtk.Label {
    return new Gtk.Label({ label: text, use_underline: true, mnemonic_widget: widget, xalign: 1 });
  }

  #update(): void {
    // VNC passwords and Unix accounts are never empty: an empty one can only fail.
    const complete = this.#password.get_text() !== "" && (this.#username === null || this.#username.get_text() !== "");
    this.set_response_enabled("connect", complete);
  }

  #respond(response: string): void {
    const settle = this.#settle;
    // A programmatic "connect" while it is disabled is not an answer; the first answer
    // wins (closing after it emits the close response again).
    if (settle === null || (response === "connect" && !this.get_response_enabled("connect"))) return;
    this.#settle = null;
    settle(response === "connect" ? this.credentials : null);
    this.close();
  }
}
