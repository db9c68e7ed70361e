import { CommandError } from "./workspace";

/** Text the server will accept: well-formed Unicode, no NUL, at most `max` characters. */
export function checkText(value: string | null, max: number, label: string): string | null {
  if (value === null) {
    return null;
  }
  if (!isWellFormed(value) || value.includes("\u0000")) {
    throw new CommandError(`${label}含有无法保存的字符，请删除后重新输入`);
  }
  // the server counts code points (Python's len), as Array.from does
  if (Array.from(value).length > max) {
    throw new CommandError(`${label}最多 ${max} 个字`);
  }
  return value;
}

function isWellFormed(value: string): boolean {
  // String.prototype.isWellFormed is in Chromium 111+; the loop covers older phones
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) {
        return false;
      }
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return false;
    }
  }
  return true;
}
