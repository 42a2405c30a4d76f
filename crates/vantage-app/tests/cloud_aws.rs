//! AWS inventory against moto (PyPI `moto[server]`), a local EC2/ELBv2/STS/IAM emulator on
//! 127.0.0.1 that checks every SigV4 signature (`INITIAL_NO_AUTH_ACTION_COUNT`: only the
//! bootstrap IAM calls are unauthenticated). The test creates security groups, instances in two
//! regions and an Elastic IP through boto3, then Vantage must list exactly those, with the
//! exposure their groups give them; on SQLite and PostgreSQL.

use std::collections::{BTreeSet, HashMap};
use std::net::TcpListener;
use std::process::Command;
use std::sync::Arc;

use vantage_app::cloud::{CloudRequest, CloudTuning};
use vantage_app::{App, AppError, Config};
use vantage_cloud::{NoProgress, ResourceKind};
use vantage_domain::{AssetKind, MembershipRule};
use vantage_store::NewScope;
use vantage_test_utils::both_backends;
use vantage_test_utils::lab::{Proc, spawn_proc, wait_listening};

const SEED: &str = r#"
import boto3, json, sys
ep, action = sys.argv[1], sys.argv[2]
if action == "bootstrap":
    iam = boto3.client("iam", endpoint_url=ep, region_name="us-east-1",
                       aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
    iam.create_user(UserName="vantage")
    k = iam.create_access_key(UserName="vantage")["AccessKey"]
    iam.put_user_policy(UserName="vantage", PolicyName="all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    print(json.dumps({"ak": k["AccessKeyId"], "sk": k["SecretAccessKey"]}))
    sys.exit(0)
ak, sk = sys.argv[3], sys.argv[4]
s = boto3.Session(aws_access_key_id=ak, aws_secret_access_key=sk, region_name="us-east-1")
ec2 = s.client("ec2", endpoint_url=ep)
if action == "terminate":
    ec2.terminate_instances(InstanceIds=[sys.argv[5]])
    sys.exit(0)
web = ec2.create_security_group(GroupName="web", Description="web")["GroupId"]
ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=[
    {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
    {"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8080, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}])
adm = ec2.create_security_group(GroupName="admin", Description="admin")["GroupId"]
ec2.authorize_security_group_ingress(GroupId=adm, IpPermissions=[
    {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
r = ec2.run_instances(ImageId="ami-12c6146b", MinCount=3, MaxCount=3, SecurityGroupIds=[web],
    TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "web"}, {"Key": "env", "Value": "prod"}]}])
web_ids = [i["InstanceId"] for i in r["Instances"]]
internal = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SecurityGroupIds=[adm])["Instances"][0]["InstanceId"]
a = ec2.allocate_address(Domain="vpc")
ec2.associate_address(AllocationId=a["AllocationId"], InstanceId=web_ids[0])
spare = ec2.allocate_address(Domain="vpc")
paris = s.client("ec2", endpoint_url=ep, region_name="eu-west-3").run_instances(
    ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
print(json.dumps({"web": web_ids, "internal": internal, "eip": a["PublicIp"],
                  "spare": spare["AllocationId"], "paris": paris, "web_group": web}))
"#;

struct Moto {
    _proc: Proc,
    endpoint: String,
}

fn moto() -> Moto {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let python = vantage_test_utils::python();
    let bin = std::path::Path::new(&python)
        .parent()
        .unwrap()
        .join("moto_server");
    let proc = spawn_proc(
        Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", "3"),
        tempfile::tempdir().unwrap(),
        "moto_server",
    );
    wait_listening(format!("127.0.0.1:{port}").parse().unwrap());
    Moto {
        _proc: proc,
        endpoint: format!("http://127.0.0.1:{port}"),
    }
}

fn seed(endpoint: &str, args: &[&str]) -> serde_json::Value {
    let out = Command::new(vantage_test_utils::python())
        .args(["-c", SEED, endpoint])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "boto3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    if text.trim().is_empty() {
        return serde_json::Value::Null;
    }
    serde_json::from_str(text.trim()).unwrap()
}

fn env(endpoint: &str, ak: &str, sk: &str) -> HashMap<String, String> {
    HashMap::from([
        ("AWS_ENDPOINT_URL".to_string(), endpoint.to_string()),
        ("AWS_ACCESS_KEY_ID".to_string(), ak.to_string()),
        ("AWS_SECRET_ACCESS_KEY".to_string(), sk.to_string()),
        ("AWS_REGION".to_string(), "us-east-1".to_string()),
    ])
}

fn aws(regions: &[&str]) -> CloudRequest {
    CloudRequest::Aws {
        regions: regions.iter().map(|r| r.to_string()).collect(),
        profile: None,
        assume_roles: vec![],
        external_id: None,
        endpoint: None,
        no_load_balancers: false,
    }
}

both_backends! {
    async fn moto_instances_are_found_exactly_with_their_exposure_and_lifecycle(db) {
        let app = App::from_parts(Config::default(), db.store.clone());
        let m = moto();
        let keys = seed(&m.endpoint, &["bootstrap"]);
        let (ak, sk) = (keys["ak"].as_str().unwrap(), keys["sk"].as_str().unwrap());
        let made = seed(&m.endpoint, &["create", ak, sk]);
        let web: Vec<String> = made["web"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
        let internal = made["internal"].as_str().unwrap();
        let paris = made["paris"].as_str().unwrap();

        // Scopes by rule: a tag, and an account + region.
        let mut prod = NewScope::named("prod");
        prod.rules = vec![MembershipRule::Tag("env=prod".parse().unwrap())];
        app.create_scope(&prod, "test").await.unwrap();
        let mut fr = NewScope::named("paris");
        fr.rules = vec![MembershipRule::CloudAccount("aws:123456789012/eu-west-3".into())];
        app.create_scope(&fr, "test").await.unwrap();

        // Wrong secret: moto checks the signature; nothing is stored.
        let mut tuning = CloudTuning { env: Some(env(&m.endpoint, ak, "wrong-secret")), ..CloudTuning::default() };
        let err = app.discover_cloud(&aws(&["us-east-1"]), &tuning, Arc::new(NoProgress), "test").await.unwrap_err();
        assert!(matches!(err, AppError::Invalid(_)) && err.to_string().contains("credentials refused"), "{err}");
        assert_eq!(app.store.count_live_assets().await.unwrap(), 0);

        tuning.env = Some(env(&m.endpoint, ak, sk));
        let r = app.discover_cloud(&aws(&["us-east-1", "eu-west-3"]), &tuning, Arc::new(NoProgress), "test").await.unwrap();
        assert_eq!(r.failed_regions(), 0, "{:?}", r.regions);
        let instances: BTreeSet<&str> = r.resources.iter()
            .filter(|a| a.resource.kind == ResourceKind::Instance)
            .map(|a| a.resource.id.as_str()).collect();
        let expected: BTreeSet<&str> = web.iter().map(String::as_str).chain([internal, paris]).collect();
        assert_eq!(instances, expected, "exactly the instances boto3 created");
        for a in &r.resources {
            let res = &a.resource;
            assert_eq!(res.account, "123456789012");
            if web.contains(&res.id) {
                let ports: Vec<String> = res.exposures.iter().map(|e| format!("{} {}", e.ports(), e.source)).collect();
                assert_eq!(ports, ["tcp/443 0.0.0.0/0", "tcp/8000-8080 ::/0"], "{}", res.id);
                assert!(res.internet_exposed && !res.public_ips.is_empty(), "{res:?}");
                assert_eq!(a.scopes, ["prod"]);
                assert_eq!(res.name, "web");
            } else if res.id == internal {
                assert!(res.exposures.is_empty() && !res.internet_exposed, "10.0.0.0/8 is not the internet: {res:?}");
            } else if res.id == paris {
                assert_eq!(res.region, "eu-west-3");
                assert_eq!(a.scopes, ["paris"]);
            }
        }
        // The associated Elastic IP is the first web instance's; the spare one is its own asset.
        let eip: std::net::IpAddr = made["eip"].as_str().unwrap().parse().unwrap();
        let first = r.resources.iter().find(|a| a.resource.id == web[0]).unwrap();
        assert!(first.resource.public_ips.contains(&eip), "{:?}", first.resource);
        assert!(r.resources.iter().any(|a| a.resource.kind == ResourceKind::Address && a.resource.id == made["spare"].as_str().unwrap()));
        assert_eq!(r.created as usize, r.resources.len());

        // Stored: the asset, its exposures, its scopes.
        let stored = app.store.asset(first.asset_id).await.unwrap().unwrap();
        assert_eq!(stored.kind, AssetKind::CloudInstance);
        assert!(stored.identifiers.iter().any(|i| i.value == format!("aws:123456789012:{}", web[0])));
        assert!(stored.tags.iter().any(|t| t.key == "exposure" && t.value == "internet"));
        let row = app.store.cloud_resource(first.asset_id).await.unwrap().unwrap();
        assert_eq!((row.region.as_str(), row.internet_exposed, row.exposures.len()), ("us-east-1", true, 2));

        // A terminated instance is decommissioned; the others stay live and are not duplicated.
        seed(&m.endpoint, &["terminate", ak, sk, &web[2]]);
        let r2 = app.discover_cloud(&aws(&["us-east-1", "eu-west-3"]), &tuning, Arc::new(NoProgress), "test").await.unwrap();
        assert_eq!((r2.created, r2.decommissioned), (0, 1));
        let gone = r2.resources.iter().find(|a| a.resource.id == web[2]).unwrap();
        assert!(app.store.asset(gone.asset_id).await.unwrap().unwrap().decommissioned_at.is_some());
        assert!(app.store.asset(first.asset_id).await.unwrap().unwrap().decommissioned_at.is_none());
        // A region not asked this time keeps its assets.
        let r3 = app.discover_cloud(&aws(&["us-east-1"]), &tuning, Arc::new(NoProgress), "test").await.unwrap();
        assert_eq!(r3.decommissioned, 0);
        let p = r.resources.iter().find(|a| a.resource.id == paris).unwrap();
        assert!(app.store.asset(p.asset_id).await.unwrap().unwrap().decommissioned_at.is_none());
    }
}
