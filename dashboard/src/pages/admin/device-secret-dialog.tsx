import { useState } from 'preact/hooks';
import type { SecretAnswer } from '../../api';
import { copyText, Modal } from '../../ui';

export function DeviceSecretDialog({
  answer,
  onClose,
}: {
  answer: SecretAnswer;
  onClose: () => void;
}) {
  const [copied, setCopied] = useState<string | null>(null);
  const copy = (what: string, text: string) =>
    copyText(text).then(
      () => setCopied(`${what} copied.`),
      () => setCopied(`Could not copy; select the text and copy it yourself.`),
    );
  return (
    <Modal title={`Device secret for ${answer.device.name}`} onClose={onClose} wide>
      <p class="note warn">
        This is the only time the secret is shown. Store it on the device now; Telemoat keeps only a
        hash of it.
      </p>
      <dl class="secret">
        <dt>Device id</dt>
        <dd>
          <code>{answer.device.id}</code>
        </dd>
        <dt>Secret</dt>
        <dd>
          <code class="break">{answer.secret}</code>
        </dd>
      </dl>
      <p class="muted">Publish a test reading:</p>
      <pre class="code">
        <code>{answer.mosquittoPub}</code>
      </pre>
      <p class="copied" role="status">
        {copied}
      </p>
      <div class="actions">
        <button type="button" class="secondary" onClick={() => void copy('Secret', answer.secret)}>
          Copy secret
        </button>
        <button
          type="button"
          class="secondary"
          onClick={() => void copy('Command', answer.mosquittoPub)}
        >
          Copy command
        </button>
        <button type="button" class="primary" onClick={onClose}>
          Done
        </button>
      </div>
    </Modal>
  );
}
