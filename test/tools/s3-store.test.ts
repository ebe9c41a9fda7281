// The local S3 server's store under concurrent clients: an object replaced while it is read is never half there, as on
// S3 (DigitalOcean's importer can download an image while another machine pushing the same content replaces it).
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { startS3Server } from "../../tools/local-do/emulator";

test("GETs while the same key is PUT 200 times all answer 200 with the whole object", async () => {
  const s3 = await startS3Server({ buckets: ["images"] });
  const client = new S3Client({
    endpoint: s3.url,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  const body = Buffer.alloc(1 << 20, 7);
  const put = () => client.send(new PutObjectCommand({ Bucket: "images", Key: "disk.qcow2", Body: body, Metadata: { sha256: "same" } }));
  try {
    await put();
    let putting = true;
    const answers = new Map<string, number>();
    const reader = (async () => {
      while (putting) {
        const res = await fetch(`${s3.url}/images/disk.qcow2`);
        const got = Buffer.from(await res.arrayBuffer());
        const answer = res.status === 200 && got.equals(body) ? "whole" : `${res.status}, ${got.length} bytes`;
        answers.set(answer, (answers.get(answer) ?? 0) + 1);
      }
    })();
    for (let i = 0; i < 200; i++) await put();
    putting = false;
    await reader;
    expect([...answers.keys()]).toEqual(["whole"]);
  } finally {
    client.destroy();
    await s3.close();
  }
}, 60_000);
