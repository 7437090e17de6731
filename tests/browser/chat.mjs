// Drives Minnow's chat page in headless Chromium: load it, send a message, watch the reply stream in,
// and take a screenshot. Usage: node chat.mjs URL SCREENSHOT.png (run.sh starts the server and calls this).
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [url, screenshot] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error("usage: node chat.mjs URL SCREENSHOT.png");
  process.exit(2);
}
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
// A fresh profile, and no background traffic: the machine has no network beyond loopback.
const profile = mkdtempSync(join(tmpdir(), "minnow-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  viewport: { width: 1000, height: 700 },
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
let failed = null;
try {
  const page = context.pages()[0] ?? await context.newPage();
  page.on("console", m => { if (m.type() === "error") console.error("page console error:", m.text()); });
  page.on("pageerror", e => { failed = "page error: " + e.message; });
  await page.goto(url);
  // The page shows the model's id once /v1/models answers.
  await page.waitForFunction(() => !["", "connecting…"].includes(document.getElementById("model").textContent)
    && !document.getElementById("model").textContent.startsWith("model unavailable"), null, { timeout: 60_000 });
  const model = await page.textContent("#model");

  await page.click("summary");
  await page.fill("#maxTokens", "120");
  await page.fill("#input", "Hello, Minnow! Tell me about small fish.");
  // Record the reply's length at every DOM change while it streams (in the page, so no polling round trip
  // can miss a fast reply): a streamed reply shows several partial lengths before it is done.
  await page.evaluate(() => {
    window.__replyLengths = [];
    new MutationObserver(() => {
      const replies = document.querySelectorAll(".message.assistant");
      const reply = replies[replies.length - 1];
      if (reply && reply.dataset.state === "streaming") window.__replyLengths.push(reply.querySelector(".text").textContent.length);
    }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
  });
  await page.press("#input", "Enter");

  const reply = page.locator(".message.assistant").last();
  await page.waitForSelector(".message.assistant[data-state=done]", { timeout: 60_000 });
  const text = await reply.locator(".text").textContent();
  const stats = await reply.locator(".stats").textContent();
  await page.screenshot({ path: screenshot, fullPage: false });

  const lengths = await page.evaluate(() => window.__replyLengths);
  const distinct = new Set(lengths.filter(n => n > 0)).size;
  const summary = { model, replyCharacters: text.length, stats, streamedObservations: distinct, screenshot };
  console.log(JSON.stringify(summary));
  if (failed) throw new Error(failed);
  if (text.length === 0) throw new Error("the reply is empty");
  if (!stats.includes("completion tokens")) throw new Error("the reply has no usage line: " + stats);
  const completionTokens = Number((/(\d+) completion tokens/.exec(stats) ?? [])[1] ?? 0);
  // A reply of one or two tokens can arrive in one piece; anything longer must be seen growing.
  if (completionTokens >= 3 && distinct < 2) throw new Error("the reply did not visibly stream (one observation of partial text)");
} catch (e) {
  console.error("browser check failed:", e.message);
  process.exitCode = 1;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
