import ArgumentParser
import AsyncHTTPClient
import Foundation
import GatewayServer
import Logging
import NIOCore
import PhigateConfig

extension DevCommand {
    /// `phigate dev reference-proxy --port N --upstream URL`: the benchmark's floor (see `buildReferenceProxy`).
    struct ReferenceProxyCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reference-proxy",
            abstract: "Forward POST /v1/chat/completions to one URL with nothing else: the gateway benchmark's floor.",
            discussion: """
                The same Hummingbird server and AsyncHTTPClient configuration as `phigate serve` (pooled \
                connections, no tracing, Swift Concurrency on the event loops), without authentication, parsing, \
                routing, metrics or the outcome log. scripts/bench-gateway.sh measures it beside phigate so the \
                difference is what phigate adds. With `--server nio` the server is a bare SwiftNIO HTTP/1 channel \
                handler calling AsyncHTTPClient on the connection's event loop: the client library's floor without \
                Hummingbird. Prints "listening on PORT" once bound; stops on SIGINT/SIGTERM.
                """
        )

        @Option(help: "Address to bind.")
        var host = "127.0.0.1"

        @Option(help: "Port to bind; 0 lets the system choose (the chosen port is printed).")
        var port = 0

        @Option(help: "Full URL every request is forwarded to, e.g. http://127.0.0.1:9000/v1/chat/completions.")
        var upstream: String

        enum Server: String, ExpressibleByArgument, CaseIterable {
            case hummingbird, nio
        }

        @Option(help: "The HTTP server in front of AsyncHTTPClient: hummingbird (as `phigate serve`) or nio (bare SwiftNIO).")
        var server: Server = .hummingbird

        func validate() throws {
            guard let url = URL(string: upstream), url.scheme == "http" || url.scheme == "https", url.host != nil else {
                throw ValidationError("--upstream: expected an http(s) URL, found \(upstream)")
            }
            if !(0...65535).contains(port) { throw ValidationError("--port: expected 0 to 65535, found \(port)") }
        }

        func run() async throws {
            _ = installEventLoopsAsGlobalExecutor()
            var logger = Logger(label: "phigate.reference-proxy")
            logger.logLevel = .warning
            let client = HTTPClient(
                eventLoopGroupProvider: .singleton, configuration: gatewayHTTPClientConfiguration(for: GatewayConfig()))
            if server == .nio {
                try await runNIO(client: client)
                return
            }
            do {
                let app = try buildReferenceProxy(
                    host: host, port: port, upstream: upstream, httpClient: client, logger: logger,
                    onServerRunning: { channel in
                        let bound = channel.localAddress?.port ?? 0
                        FileHandle.standardOutput.write(Data("listening on \(bound)\n".utf8))
                    })
                try await app.runService()
            } catch {
                try? await client.shutdown()
                throw error
            }
            try await client.shutdown()
        }

        /// Serves until SIGINT or SIGTERM, then closes the server channel and the client.
        private func runNIO(client: HTTPClient) async throws {
            let channel: any Channel
            do {
                channel = try await startNIOReferenceProxy(host: host, port: port, upstream: upstream, httpClient: client)
            } catch {
                try? await client.shutdown()
                throw error
            }
            FileHandle.standardOutput.write(Data("listening on \(channel.localAddress?.port ?? 0)\n".utf8))
            await waitForInterruptOrTerminate()
            try? await channel.close()
            try await client.shutdown()
        }
    }
}
