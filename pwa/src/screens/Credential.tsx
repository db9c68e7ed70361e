// 亮证: the inspector shows the 执法证 on site, as text and as a QR code that the business can
// scan — from what the last sign-in stored, so it works offline.
import { useEffect, useState } from "preact/hooks";
import { useApp } from "../ui/app-context";

export function credentialText(
  name: string,
  c: { certificateNo: string; validUntil: string; department: string },
): string {
  return `执法证 ${c.certificateNo}\n姓名 ${name}\n单位 ${c.department}\n有效期至 ${c.validUntil}`;
}

export function Credential() {
  const { session } = useApp();
  const { displayName, credential } = session.account;
  const [svg, setSvg] = useState<string | null>(null);
  useEffect(() => {
    if (!credential) {
      return;
    }
    void import("qrcode-generator").then(({ default: qrcode }) => {
      qrcode.stringToBytes = qrcode.stringToBytesFuncs["UTF-8"] ?? qrcode.stringToBytes;
      const code = qrcode(0, "M");
      code.addData(credentialText(displayName, credential));
      code.make();
      setSvg(code.createSvgTag({ scalable: true, margin: 2 }));
    });
  }, [credential, displayName]);
  const today = new Date().toISOString().slice(0, 10);
  return (
    <main>
      <header class="bar">
        <a class="back" href="#/">
          ‹ 返回
        </a>
        <h1>亮证</h1>
      </header>
      {!credential ? (
        <p class="notice warn">本机没有您的执法证信息：联网后重新登录即可显示。</p>
      ) : (
        <section class="card credential">
          <h2>{displayName}</h2>
          <dl>
            <dt>执法证号</dt>
            <dd class="mono">{credential.certificateNo}</dd>
            <dt>单位</dt>
            <dd>{credential.department}</dd>
            <dt>有效期</dt>
            <dd>
              {credential.validFrom} 至 {credential.validUntil}
              {credential.validUntil < today && <span class="badge warn">已过期</span>}
            </dd>
          </dl>
          {svg && (
            <div
              class="qr"
              role="img"
              aria-label="执法证二维码"
              dangerouslySetInnerHTML={{ __html: svg }}
            />
          )}
        </section>
      )}
    </main>
  );
}
