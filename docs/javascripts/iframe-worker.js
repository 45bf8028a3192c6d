// Site search from a page opened from disk (file://), where browsers refuse to start a Web
// Worker. Material's search runs its index in a worker; here the worker's script runs in a hidden
// same-origin iframe instead, and messages cross by plain function calls. Served over http(s),
// nothing changes. (Named iframe-worker so that Material's offline plugin does not add its own
// copy from a CDN: the site fetches nothing.)
(function () {
  "use strict";
  if (location.protocol !== "file:") return;

  class FrameWorker extends EventTarget {
    constructor(url) {
      super();
      this.pending = [];
      this.ready = false;
      this.frame = document.createElement("iframe");
      this.frame.hidden = true;
      this.frame.setAttribute("aria-hidden", "true");
      const start = () => this.start(String(url));
      if (document.body) start();
      else document.addEventListener("DOMContentLoaded", start, { once: true });
    }

    start(url) {
      document.body.appendChild(this.frame);
      const inner = this.frame.contentWindow;
      // The worker's postMessage(data) is a message event on this object, as from a real worker.
      inner.postMessage = (data) => {
        this.dispatchEvent(new MessageEvent("message", { data }));
      };
      const script = inner.document.createElement("script");
      script.src = new URL(url, location.href).href;
      script.onload = () => {
        this.ready = true;
        for (const data of this.pending.splice(0)) this.deliver(data);
      };
      script.onerror = () => this.dispatchEvent(new Event("error"));
      inner.document.head.appendChild(script);
    }

    deliver(data) {
      this.frame.contentWindow.dispatchEvent(new MessageEvent("message", { data }));
    }

    postMessage(data) {
      if (this.ready) this.deliver(data);
      else this.pending.push(data);
    }

    terminate() {
      this.frame.remove();
    }
  }

  window.Worker = FrameWorker;
})();
