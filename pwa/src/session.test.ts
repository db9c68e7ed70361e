import { describe, expect, it } from "vitest";
import { ssoReturn } from "./session";

describe("the end of a single sign-on", () => {
  it("reads the one-time code and the user from the app's address", () => {
    expect(ssoReturn("#/sso?code=abc-_123&user=insp01")).toEqual({
      code: "abc-_123",
      username: "insp01",
      error: null,
    });
  });

  it("reads the reason a sign-in failed", () => {
    const back = ssoReturn(`#/sso?error=${encodeURIComponent("登录请求无效，请重新登录")}`);
    expect(back).toEqual({ code: null, username: null, error: "登录请求无效，请重新登录" });
  });

  it("ignores every other address", () => {
    expect(ssoReturn("#/")).toBeNull();
    expect(ssoReturn("#/sync")).toBeNull();
    expect(ssoReturn("")).toBeNull();
    expect(ssoReturn("#/ssox?code=1")).toBeNull();
  });
});
