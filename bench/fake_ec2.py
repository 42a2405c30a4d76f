"""A fake AWS Query API for the cloud inventory benchmark: STS GetCallerIdentity, EC2
DescribeSecurityGroups / DescribeInstances (paged by MaxResults + NextToken) / DescribeAddresses,
ELBv2 DescribeLoadBalancers, answering in the documented XML shapes for REGIONS regions of
PER_REGION instances each (the region is read from the SigV4 credential scope). moto would
measure moto's own speed at 10,000 instances; this measures Vantage's.
Usage: fake_ec2.py PORT REGIONS PER_REGION"""
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

PORT, REGIONS, PER_REGION = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
EC2 = 'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"'


def instance(region, n):
    r = int(region.rsplit("-", 1)[1]) % 200  # bench-N: unique addresses per region
    return (
        f"<item><instanceId>i-{r:03d}{n:013x}</instanceId><imageId>ami-12c6146b</imageId>"
        f"<instanceState><code>16</code><name>running</name></instanceState>"
        f"<privateDnsName>ip-10-{r}-{n // 250}-{n % 250}.ec2.internal</privateDnsName>"
        f"<dnsName>ec2-100-{64 + r}-{n // 250}-{n % 250}.compute-1.amazonaws.com</dnsName>"
        f"<placement><availabilityZone>{region}a</availabilityZone></placement>"
        f"<privateIpAddress>10.{r}.{n // 250}.{n % 250 + 1}</privateIpAddress>"
        f"<ipAddress>100.{64 + r}.{n // 250}.{n % 250 + 1}</ipAddress>"
        f"<groupSet><item><groupId>sg-bench</groupId><groupName>web</groupName></item></groupSet>"
        f"<tagSet><item><key>Name</key><value>bench-{n}</value></item><item><key>env</key><value>prod</value></item></tagSet>"
        f"<networkInterfaceSet><item><networkInterfaceId>eni-{n:x}</networkInterfaceId>"
        f"<groupSet><item><groupId>sg-bench</groupId></item></groupSet>"
        f"<privateIpAddressesSet><item><privateIpAddress>10.{r}.{n // 250}.{n % 250 + 1}</privateIpAddress>"
        f"<association><publicIp>100.{64 + r}.{n // 250}.{n % 250 + 1}</publicIp></association></item></privateIpAddressesSet>"
        f"</item></networkInterfaceSet></item>"
    )


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
        q = {k: v[0] for k, v in parse_qs(body).items()}
        m = re.search(r"Credential=[^/]+/\d+/([^/]+)/", self.headers.get("authorization", ""))
        region = m.group(1) if m else "us-east-1"
        a = q.get("Action")
        status = 200
        if a == "GetCallerIdentity":
            out = ("<GetCallerIdentityResponse><GetCallerIdentityResult><Account>123456789012</Account>"
                   "</GetCallerIdentityResult></GetCallerIdentityResponse>")
        elif a == "DescribeSecurityGroups":
            out = (f"<DescribeSecurityGroupsResponse {EC2}><securityGroupInfo><item><groupId>sg-bench</groupId>"
                   "<groupName>web</groupName><ipPermissions><item><ipProtocol>tcp</ipProtocol><fromPort>443</fromPort>"
                   "<toPort>443</toPort><ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges></item>"
                   "</ipPermissions></item></securityGroupInfo></DescribeSecurityGroupsResponse>")
        elif a == "DescribeInstances":
            size = int(q.get("MaxResults", "1000"))
            start = int(q.get("NextToken", "0"))
            end = min(start + size, PER_REGION)
            items = "".join(instance(region, n) for n in range(start, end))
            token = f"<nextToken>{end}</nextToken>" if end < PER_REGION else ""
            out = (f"<DescribeInstancesResponse {EC2}><reservationSet><item><reservationId>r-{region}-{start}"
                   f"</reservationId><ownerId>123456789012</ownerId><instancesSet>{items}</instancesSet></item>"
                   f"</reservationSet>{token}</DescribeInstancesResponse>")
        elif a == "DescribeAddresses":
            out = f"<DescribeAddressesResponse {EC2}><addressesSet/></DescribeAddressesResponse>"
        elif a == "DescribeLoadBalancers":
            out = ("<DescribeLoadBalancersResponse><DescribeLoadBalancersResult><LoadBalancers/>"
                   "</DescribeLoadBalancersResult></DescribeLoadBalancersResponse>")
        else:
            status = 400
            out = f"<Response><Errors><Error><Code>InvalidAction</Code><Message>{a}</Message></Error></Errors></Response>"
        data = out.encode()
        self.send_response(status)
        self.send_header("content-type", "text/xml")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


ThreadingHTTPServer(("127.0.0.1", PORT), H).serve_forever()
