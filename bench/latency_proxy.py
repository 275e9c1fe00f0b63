#!/usr/bin/python3
"""A latency-injecting TCP proxy for benchmarks (loopback only).

  latency_proxy.py PORTFILE TARGET_PORT DELAY_MS

Listens on 127.0.0.1 (a free port, written to PORTFILE) and forwards every
connection to 127.0.0.1:TARGET_PORT.  Each request/response exchange is
delayed once by DELAY_MS: the first bytes a client sends after the server
last spoke (a new HTTP request on a kept-alive connection, or the first
request of a connection) wait DELAY_MS before they are forwarded; the rest
of the exchange flows at loopback speed.  Concurrent connections are
delayed independently, as a long network path would.
"""
import asyncio
import sys


async def pipe(reader, writer, on_data):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            await on_data(data)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def handle(cr, cw, port, delay):
    try:
        sr, sw = await asyncio.open_connection('127.0.0.1', port)
    except OSError:
        cw.close()
        return
    state = {'new': True}

    async def from_client(_):
        if state['new']:
            state['new'] = False
            await asyncio.sleep(delay)

    async def from_server(_):
        state['new'] = True

    await asyncio.gather(pipe(cr, sw, from_client), pipe(sr, cw, from_server))


async def main():
    portfile, port, delay = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]) / 1000.0
    srv = await asyncio.start_server(lambda r, w: handle(r, w, port, delay), '127.0.0.1', 0)
    with open(portfile + '.tmp', 'w') as f:
        f.write(str(srv.sockets[0].getsockname()[1]))
    import os
    os.rename(portfile + '.tmp', portfile)
    async with srv:
        await srv.serve_forever()


if __name__ == '__main__':
    asyncio.run(main())
